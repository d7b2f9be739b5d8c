"""One YAMNet patch timed with scores only and with the pooled embedding as a second output (docs/benchmarks.md)."""
import time, numpy as np, onnxruntime
from listenloop.models import model_dir
from listenloop.perception.detector import yamnet_graph
from listenloop.perception import yamnet_frontend as yf
path = model_dir("yamnet") / "model.onnx"
def sess(g):
    o = onnxruntime.SessionOptions(); o.intra_op_num_threads = o.inter_op_num_threads = 1
    o.add_session_config_entry("session.disable_quant_qdq", "1")
    return onnxruntime.InferenceSession(g, o)
a = sess(str(path)); b = sess(yamnet_graph(path, embeddings=True))
rng = np.random.default_rng(0); x = (rng.standard_normal(16000*3)*0.1).astype(np.float32)
patch = yf.quantize_patch(yf.log_mel(x)[:96])
name = a.get_inputs()[0].name
ta, tb = [], []
for i in range(320):
    for s, t in ((a, ta), (b, tb)):
        t0 = time.perf_counter(); s.run(None, {name: patch}); t.append((time.perf_counter()-t0)*1000)
ta, tb = np.array(ta[20:]), np.array(tb[20:])
print(f"scores only: p50 {np.median(ta):.2f} ms p95 {np.percentile(ta,95):.2f}; with embedding output: p50 {np.median(tb):.2f} p95 {np.percentile(tb,95):.2f}")
ra = a.run(None, {name: patch})[0]; rb = b.run(None, {name: patch})[0]
print("scores equal:", np.array_equal(ra, rb))
