"""The text material of built streams, written for this project, and what each kind of sound deserves.

Every line here is original. Sentences are split into a training and a held-out half by a stable hash
(`split_of`), so the held-out streams of the benchmark use sentences the model never heard.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from listenloop.decision.base import Emotion, Task

QUESTIONS = (
    "What time does the library open tomorrow morning?",
    "How far is the nearest train station from here?",
    "Can you tell me what the weather will be like this weekend?",
    "Who wrote the book about the whale and the captain?",
    "How many cups of flour do I need for a dozen pancakes?",
    "Is it going to rain this afternoon?",
    "What is the capital of Australia?",
    "How do I reset the router in the living room?",
    "Why is the sky blue during the day and red at sunset?",
    "When does the next bus to the airport leave?",
    "What should I cook for dinner with rice and beans?",
    "How long should I boil an egg for a soft yolk?",
    "Which planet is the largest in the solar system?",
    "Do you know a good exercise for a sore back?",
    "What is the difference between a virus and a bacterium?",
    "How much is twelve times seventeen?",
    "Where did I put the meeting notes from Monday?",
    "Could you explain how a heat pump works?",
    "What does the word serendipity mean?",
    "How many days are left until the end of the month?",
    "Is there a pharmacy open late near the market?",
    "What year did the first person walk on the moon?",
    "How do you say thank you in Japanese?",
    "Can dogs eat grapes safely?",
    "What is a good name for a small grey kitten?",
    "How do I get a red wine stain out of a carpet?",
    "Which is heavier, a kilogram of feathers or a kilogram of iron?",
    "What is the tallest mountain in Africa?",
    "How often should I water a cactus?",
    "Are there any concerts in the park this summer?",
    "What does a blinking orange light on the dishwasher mean?",
    "How many calories are in a banana?",
    "Why do cats purr when they are happy?",
    "What is the best way to learn to play the guitar?",
    "Who painted the ceiling of the Sistine Chapel?",
    "How do I convert fifty degrees Fahrenheit to Celsius?",
    "What time is it in Tokyo right now?",
    "Can you remind me what I asked you earlier?",
    "How long does it take to fly from Paris to Rome?",
    "What is a prime number?",
    "Should I bring an umbrella today?",
    "Where can I recycle old batteries?",
    "What is the score of the football game?",
    "How do bees make honey?",
)

REQUESTS = (
    "Please set a timer for ten minutes.",
    "Tell me a short joke about penguins.",
    "Remind me to call my sister at six.",
    "Add milk and eggs to the shopping list.",
    "Read me the headlines from this morning.",
    "Translate good evening into Spanish.",
    "Give me three ideas for a birthday present.",
    "Play something relaxing for the next hour.",
    "Turn the heating down a little, please.",
    "Summarize what we talked about so far.",
    "Spell the word necessary for me.",
    "Suggest a quick vegetarian lunch.",
    "Count how many times the dog barks.",
    "Write down that the plumber comes on Thursday.",
    "Help me plan a three day trip to the coast.",
    "Explain photosynthesis to a ten year old.",
    "Wake me up at seven tomorrow.",
    "Describe what you can hear right now.",
    "List the planets in order from the sun.",
    "Recommend a good mystery novel.",
    "Tell me when the washing machine finishes.",
    "Give me a word that rhymes with orange.",
    "Calculate a fifteen percent tip on forty dollars.",
    "Let me know if you hear the baby crying.",
    "Find a recipe for lemon cake.",
    "Please repeat that more slowly.",
)

STATEMENTS = (
    "I finally fixed the leaking tap in the kitchen.",
    "The garden looks much better after the rain.",
    "We went to the beach last weekend and it was freezing.",
    "My brother is moving to a new apartment next month.",
    "The coffee machine has been making a strange noise.",
    "I think I left my keys in the car again.",
    "The meeting ran late so I missed the early train.",
    "This soup needs a little more salt.",
    "The neighbours are painting their fence blue.",
    "I have been reading a book about old sailing ships.",
    "It was the coldest morning of the year so far.",
    "The children built a fort out of cardboard boxes.",
    "Our team won the quiz at the pub last night.",
    "The printer is out of paper again.",
    "I started running three times a week.",
    "The bakery on the corner closed for good.",
    "My phone battery barely lasts until lunch.",
    "The cat knocked a glass off the table this morning.",
    "We planted tomatoes and basil along the wall.",
    "The traffic on the bridge was terrible today.",
    "I need to answer a few emails before dinner.",
    "The old clock in the hallway stopped at midnight.",
    "She said the train would be twenty minutes late.",
    "The river was higher than I have ever seen it.",
    "The museum has a new exhibition about glass.",
    "Dinner will be ready in about half an hour.",
    "The wind blew the recycling bin across the street.",
    "I am going to paint the bedroom a pale green.",
    "The package arrived but the box was crushed.",
    "Grandma sent a postcard from the mountains.",
    "The lecture on volcanoes was surprisingly good.",
    "I only slept five hours last night.",
    "The lights flickered during the storm.",
    "Most of the snow has melted from the roof.",
)

# Two people talking to each other; the assistant must stay out of it even when they ask questions.
CROSSTALK = (
    ("Did you remember to lock the back door?", "Yes, I checked it twice.", "Good, thanks."),
    ("What do you want for dinner tonight?", "I don't mind, maybe pasta?", "Pasta again? Fine."),
    ("Have you seen my blue scarf anywhere?", "It's on the hook by the door.", "Oh, there it is."),
    ("Are you coming to the party on Saturday?", "I think so, if I finish work early."),
    ("Can you pass me the salt?", "Here you go.", "Thanks."),
    ("How was your day at school?", "Boring. We had a maths test.", "How did it go?", "Okay I guess."),
    ("Who is picking up the kids today?", "I will, you did it yesterday."),
    ("Did the landlord call back?", "Not yet, I'll try him again tomorrow."),
    ("Where are we meeting your parents?", "At the little cafe by the station.", "What time?", "Noon."),
    ("Is the kettle on?", "Just boiled. Tea or coffee?", "Tea, please."),
    ("Why is the car making that noise?", "No idea, we should take it to the garage."),
    ("Do you want to watch a film later?", "Sure, something funny.", "I'll find one."),
    ("Mark, did you feed the fish?", "Yes, this morning.", "Great."),
    ("Sarah, what time is your train?", "Half past four, I should leave soon."),
)

# Broadcast speech: news, weather, adverts, documentary narration. Never addressed to the assistant.
TELEVISION = (
    "Good evening, here are tonight's top stories from around the country.",
    "Temperatures will drop sharply overnight with frost in the north.",
    "Shares closed higher today after a week of uncertainty.",
    "Coming up after the break, the final of the baking competition.",
    "The herd moves slowly across the plain in search of water.",
    "Call now and get a second set of knives absolutely free.",
    "Police are asking witnesses to come forward after the incident.",
    "And now, what is the one thing every gardener forgets in spring?",
    "Are you tired of cleaning products that simply do not work?",
    "The match will kick off at eight, live on this channel.",
    "Scientists say the comet will be visible for the next three nights.",
    "In the deep ocean, light never reaches the sea floor.",
    "Stay tuned for the weather, and then the late film.",
    "Traffic is heavy on the ring road after an earlier accident.",
    "Who will win the grand prize? Find out after these messages.",
    "The festival drew a record crowd despite the heavy rain.",
)

FILLERS = ("um", "uh", "er", "hmm", "you know", "let me see", "like", "I mean", "well")

# Words after which a sentence cannot be over: a pause right after one is a hesitation, not an end.
OPEN_WORDS = frozenset(
    "the a an to about and of for my is with in on at that because but or your his her their this "
    "what how when where which if so some was were are".split()
)


@dataclass(frozen=True)
class SoundRule:
    """How a class of sound files is treated: the keywords of its file names and the response it deserves."""

    keywords: tuple[str, ...]  # a word of the file stem that starts with any of these selects the rule
    label: str  # the class name written in the manifest ("dog")
    task: Task | None  # the response due when it ends, None for sounds to ignore
    emotion: Emotion = Emotion.NORMAL
    reply: str = ""  # the expected reply text


# The same answers as the shipped sound policy (decision/default_policy.toml, issue 3's defaults), so the learned model
# and the rules learn and follow one definition: a car horn (traffic) and thunder get none; a baby crying is urgent.
SOUND_RULES = (
    SoundRule(("alarm", "siren", "smoke"), "alarm", Task.ALERT, Emotion.URGENT, "I hear an alarm."),
    SoundRule(("glass", "shatter", "break"), "breaking glass", Task.ALERT, Emotion.URGENT, "Something broke."),
    SoundRule(("gunshot", "explosion"), "gunshots", Task.ALERT, Emotion.URGENT, "That sounded like gunshots."),
    SoundRule(("scream", "shout"), "scream", Task.ALERT, Emotion.URGENT, "Someone screamed. Are you all right?"),
    SoundRule(("cough", "chok", "sneez"), "cough", Task.ASK, Emotion.CONCERNED, "Are you all right?"),
    SoundRule(("baby", "cry"), "baby crying", Task.ALERT, Emotion.URGENT, "The baby is crying."),
    SoundRule(("dog", "bark"), "dog", Task.NOTIFY, Emotion.NORMAL, "A dog is barking."),
    SoundRule(("doorbell", "knock", "bell"), "doorbell", Task.NOTIFY, Emotion.NORMAL, "Someone is at the door."),
    SoundRule(("phone", "telephone", "ring"), "telephone", Task.NOTIFY, Emotion.NORMAL, "Your phone is ringing."),
)
IGNORED_SOUND = "background"  # label of sound files no rule claims: music, rain, typing, engines, birds...


def sound_rule(stem: str) -> SoundRule | None:
    """The rule for a sound file (by the words of its name: "smoke_alarm", "dog-barking"), None when the sound
    deserves no response. Words, not substrings: "snoring" and "crowd_cheering" hold "ring" and are no telephone."""
    words = re.findall(r"[a-z]+", stem.lower())
    for rule in SOUND_RULES:
        if any(w.startswith(k) for w in words for k in rule.keywords):
            return rule
    return None


def split_of(text: str, test_fraction: float = 0.2) -> str:
    """'train' or 'test' for a sentence, stable across runs and machines (md5 of the text)."""
    h = int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_fraction else "train"


def in_split(items: tuple, split: str, key=lambda x: x) -> tuple:
    """The items of one split ('train', 'test' or 'all')."""
    if split == "all":
        return items
    chosen = tuple(x for x in items if split_of(key(x)) == split)
    return chosen or items  # a tiny list never leaves a split empty


def hesitation_cuts(words: list[str]) -> list[int]:
    """Word positions after which a pause leaves the sentence audibly unfinished (after an open word)."""
    return [i + 1 for i, w in enumerate(words[:-1]) if w.lower().strip(",.?!") in OPEN_WORDS and i >= 1]
