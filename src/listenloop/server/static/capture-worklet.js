// AudioWorklet: microphone at the context's rate -> 16 kHz mono PCM16 frames, posted to the page.
// Anti-aliased downsampling: a windowed-sinc low-pass at the input rate, then linear interpolation at 16 kHz.

const TAPS = 63;              // low-pass length (odd: linear phase, integer delay)
const PASSBAND_HZ = 7200;     // below the 8 kHz Nyquist of the 16 kHz output, leaving room for the transition

function lowpass(rate) {
  const fc = PASSBAND_HZ / rate;  // cycles per input sample
  const mid = (TAPS - 1) / 2;
  const h = new Float32Array(TAPS);
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const x = n - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const blackman = 0.42 - 0.5 * Math.cos(2 * Math.PI * n / (TAPS - 1)) + 0.08 * Math.cos(4 * Math.PI * n / (TAPS - 1));
    h[n] = sinc * blackman;
    sum += h[n];
  }
  for (let n = 0; n < TAPS; n++) h[n] /= sum;
  return h;
}

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.target = o.targetRate || 16000;
    this.frameSamples = o.frameSamples || 1600;
    this.step = sampleRate / this.target;                    // input samples per output sample
    this.taps = sampleRate > this.target ? lowpass(sampleRate) : null;
    this.hist = new Float32Array(TAPS * 2);                  // doubled ring: a contiguous window at any offset
    this.head = 0;
    this.prev = 0;                                           // the previous filtered input sample
    this.t = 0;                                              // next output position, in input samples after prev
    this.frame = new Int16Array(this.frameSamples);
    this.fill = 0;
    this.running = true;
    this.port.onmessage = (e) => { if (e.data === "stop") this.running = false; };
  }

  filter(x) {
    if (!this.taps) return x;
    this.hist[this.head] = x;
    this.hist[this.head + TAPS] = x;
    this.head = (this.head + 1) % TAPS;
    let y = 0;
    for (let k = 0; k < TAPS; k++) y += this.taps[k] * this.hist[this.head + k];
    return y;
  }

  emit(v) {
    const s = Math.max(-1, Math.min(1, v));
    this.frame[this.fill++] = s < 0 ? s * 32768 : s * 32767;
    if (this.fill === this.frameSamples) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
      this.frame = new Int16Array(this.frameSamples);
      this.fill = 0;
    }
  }

  process(inputs, outputs) {
    const input = inputs[0];
    if (input && input.length) {
      const channels = input.length;
      const n = input[0].length;
      for (let i = 0; i < n; i++) {
        let x = 0;
        for (let c = 0; c < channels; c++) x += input[c][i];
        const y = this.filter(x / channels);
        while (this.t < 1) {
          this.emit(this.prev + (y - this.prev) * this.t);
          this.t += this.step;
        }
        this.t -= 1;
        this.prev = y;
      }
    }
    for (const out of outputs) for (const ch of out) ch.fill(0);
    return this.running;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
