"""What people say to a virtual assistant, generated from templates and slot values.

"What is my schedule for tomorrow?" and "Show my upcoming flights" are two *intents*; an
assistant first has to decide which one it heard, then fill in the details (the *slots*:
which day, which city). Real training data for this is collected by writing templates,
"When does my flight to {city} leave?", and filling them with slot values.

That makes an easy trap: if the same templates appear in training and test, a model only
has to recognise sentences it has already seen with other slot values. So the held-out
split here is *by template*: whole phrasings are kept for validation and for test, and a
model is scored on ways of asking that it never saw. Slot values are shared (an assistant
knows its cities and contacts), phrasings are not.

Pure Python and seeded; nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import random
import string

INTENTS: dict[str, tuple[str, ...]] = {
    "get_schedule": (
        "What is my {calendar} for {day}?", "What's on my {calendar} {day}?", "Do I have any {meetings} {day}?",
        "Am I {free} {day} at {time}?", "Show me my {calendar}", "What does my {calendar} look like {day}?",
        "Read me my {meetings}", "When is my next {meeting}?", "How {free} am I {day}?",
        "List my upcoming {meetings}", "Is there anything on my {calendar} at {time} {day}?",
        "What {meetings} have I got {day}?", "Check my {calendar}", "Who am I meeting {day}?",
        "Am I {free} for lunch {day}?", "What's my first {meeting} this morning?", "Tell me what's happening {day}",
        "Have I got anything in my {calendar} {day}?", "Open my {calendar}", "Is my afternoon {free} {day}?",
        "What time is my {meeting} with {person}?", "Go through my {calendar} with me",
        "Any {meetings} I should know about?", "Where is my next {meeting}?", "Add a {meeting} with {person} {day}",
        "Clear my {calendar} for {day}"),
    "show_flights": (
        "Show my upcoming {flights}", "When does my {flight} to {city} leave?", "Is my {flight} to {city} on time?",
        "Do I have a {flight} {day}?", "What time do I fly to {city}?", "Which gate does my {flight} leave from?",
        "List my booked {flights}", "Has my {flight} to {city} been delayed?", "When do I land in {city}?",
        "Show me my plane tickets", "What is my {flight} number for {day}?", "Check me in for my {flight} to {city}",
        "Which airline am I flying with to {city}?", "Where am I flying {day}?", "How long is my {flight} to {city}?",
        "Is my {flight} {day} still on schedule?", "Do I have any {flights} coming up?",
        "What terminal does my {flight} depart from {day}?", "Show my boarding pass for the {flight}",
        "Is there a delay on my {city} {flight}?", "When am I flying back from {city}?", "My next {flight}, please",
        "Book me a {flight} to {city} {day}", "What seat do I have on the {flight} to {city}?",
        "Has my {flight} been cancelled?", "Which {flights} do I take to get to {city}?"),
    "get_weather": (
        "What's the weather like in {city}?", "Will there be {conditions} {day}?", "Do I need {gear} {day}?",
        "How hot will it be in {city} {day}?", "What's the forecast for {day}?",
        "Is {conditions} forecast in {city}?", "How cold is it outside?", "Should I bring {gear} {day}?",
        "What temperature is it in {city} right now?", "Is it sunny in {city}?",
        "Give me the weather forecast for {city}", "Any {conditions} expected {day}?",
        "What's the humidity in {city}?", "Is it warm enough to go without {gear} {day}?",
        "Will we get {conditions} {day} in {city}?", "What will the weather be {day}?", "Is it raining in {city}?",
        "Will I need {gear} in {city}?", "How many degrees is it outside?",
        "What's the weather like outside right now?", "Weather in {city} {day}", "What's the temperature outside?",
        "Tell me the forecast for {city}", "What's the chance of {conditions} in {city}?",
        "How warm is it in {city} {day}?", "Is it cold enough for {gear} {day}?"),
    "set_alarm": (
        "Wake me up at {time}", "Set an {alarm} for {time}", "Set my {alarm} for {time} {day}",
        "I need to wake up at {time} {day}", "{alarm} at {time} please", "Turn off my {time} {alarm}",
        "Cancel the {alarm} for {time}", "Change my {alarm} to {time}", "Make sure I'm awake by {time}",
        "Create an {alarm} for {time} every weekday", "Snooze the {alarm}", "Delete all my {alarms}",
        "What {alarms} do I have set?", "Set a wake-up call for {time}", "Move my {alarm} to {time}",
        "Get me out of bed at {time} {day}", "{alarm} for {time}", "Wake me {day} at {time}",
        "Set an {alarm} {time} tomorrow morning", "Turn off the {alarm}", "Add an {alarm} at {time}",
        "I want to wake up at {time}", "Show my {alarms}", "Disable my {alarms} for {day}", "Make the {alarm} louder",
        "Is my {alarm} set for {day}?"),
    "set_reminder": (
        "Remind me to {task} {day}", "Remind me to {task} at {time}", "Don't let me forget to {task}",
        "Set a {reminder} to {task} {day}", "Add a {reminder}: {task}", "Create a {reminder} for {time} to {task}",
        "Can you remind me to {task} when I get home?", "Make a note to {task} {day}",
        "I need a {reminder} to {task}", "Nudge me to {task} at {time}", "Put {task} on my to-do list",
        "Remember that I have to {task} {day}", "Ping me at {time} to {task}", "What {reminders} do I have {day}?",
        "Tell me to {task} when I leave work", "I must {task} {day}, remind me", "{reminder}: {task} {day}",
        "Remind me about the dentist {day}", "Add {task} to my {reminders}", "Set a {reminder} for {time}",
        "Help me remember to {task}", "Show my {reminders}", "Delete my {reminders} for {day}",
        "Did I set a {reminder} to {task}?", "Clear all my {reminders}", "Remind me {day} that I need to {task}"),
    "play_music": (
        "Play some {genre}", "Put on {artist}", "Play {artist} on shuffle", "I want to listen to {genre} {music}",
        "Play my {genre} playlist", "Play the latest album by {artist}", "Skip this {song}", "Turn the {music} up",
        "Pause the {music}", "What {song} is playing?", "Play something relaxing", "Shuffle {music} by {artist}",
        "Queue up some {genre} for the party", "Can you play {artist} in the {room}?", "Start my workout {music}",
        "Play that {genre} station again", "Play {music}", "Next {song}", "Play {artist}",
        "Turn on some {genre} in the {room}", "Listen to {artist}", "Can I hear some {genre}?", "Repeat this {song}",
        "Play the {song} I liked yesterday", "Stop the {music}", "Who sings this {song}?"),
    "send_message": (
        "Text {person} that {content}", "Send a {msg} to {person}", "Tell {person} {content}",
        "{msg} {person}: {content}", "Send {person} a {msg} saying {content}", "Reply to {person} with {content}",
        "Write to {person} that {content}", "Can you text {person} for me?", "Let {person} know that {content}",
        "Send a WhatsApp to {person}", "Read my new {messages}", "Drop {person} a quick note that {content}",
        "Send an SMS to {person}: {content}", "Did {person} text me back?", "Shoot {person} a {msg}: {content}",
        "Answer {person}'s last {msg} with {content}", "Send a quick {msg} to {person}", "Text {person}",
        "{msg} {person} saying {content}", "Tell {person} that {content} by text",
        "Any new {messages} from {person}?", "Write a {msg} to {person}", "Forward my last {msg} to {person}",
        "Read {person}'s {msg} to me", "Delete my {messages} from {person}", "Compose a {msg}: {content}"),
    "make_call": (
        "{dial} {person}", "{dial} {person} please", "Ring {person}'s mobile", "Give {person} a call",
        "{dial} {person} right away", "{dial} {person} on speaker", "Start a video call with {person}",
        "Can you get {person} on the phone?", "Call back the last number", "I want to {dial} {person}",
        "FaceTime {person}", "Who called my phone {day}?", "Redial the last number", "Call my voicemail",
        "Put me through to {person}", "Ring {person} back", "Make a call to {person}", "{dial} {person} on the phone",
        "{dial} {person} on the mobile", "Video call {person}", "{dial} {person} now", "Can you {dial} {person}?",
        "Hang up the call", "Did I miss any phone calls {day}?", "{dial} {person} at work", "Return {person}'s call"),
    "get_directions": (
        "How do I get to {place}?", "{route} to {place}", "{navigate} to {place}",
        "How long will it take to drive to {place}?", "What's the fastest {route} to {place}?",
        "{navigate} to {place} please", "How far is {place} from here?", "Find the nearest {poi}",
        "Is there traffic on the way to {place}?", "Show me the {route} to {place} avoiding tolls",
        "Walking {route} to {place}", "Which bus goes to {place}?", "Where is the closest {poi}?",
        "Get me a {route} home", "{navigate} to a {poi} nearby", "What's the best {route} to {place} by bike?",
        "{route} to {place} please", "{navigate} to {place} now", "How do I walk to {place}?", "Find a {poi}",
        "Give me {route} home", "{navigate} home avoiding the highway", "Show {place} on the map",
        "How long to {place} by train?", "Is {place} far?", "Which way is {place}?"),
    "control_lights": (
        "Turn off the {lights} in the {room}", "Switch on the {room} {lights}", "Dim the {lights} in the {room}",
        "Make the {room} {brighter}", "Turn the {room} lamp on", "{lights} off",
        "Set the {room} {lights} to {percent} percent", "Change the {room} {lights} to {colour}",
        "Is the {room} light still on?", "Turn everything off downstairs", "It's too {dark} in the {room}",
        "Switch off all the {lights}", "Brighten the {room}", "Make the {lights} {colour}",
        "Make the {lights} {brighter} in the {room}", "Kill the {lights} in the {room}", "Turn on the {lights}",
        "{lights} on in the {room}", "Switch the {room} light off", "Make it {brighter} in here",
        "Turn the {lights} down in the {room}", "Set the {lights} to {colour}", "Are the {lights} on in the {room}?",
        "Turn the {room} {lights} up to {percent} percent", "Leave the {lights} on in the {room}",
        "Flash the {lights}"),
}

SLOTS: dict[str, tuple[str, ...]] = {
    "day": ("today", "tomorrow", "tonight", "this evening", "Monday", "on Friday", "next week",
            "this weekend", "the day after tomorrow", "Saturday morning", "next Tuesday"),
    "time": ("6 am", "6:30", "7:15 am", "noon", "9 pm", "half past seven", "quarter to eight",
             "10 o'clock", "5:45 in the morning", "midnight"),
    "city": ("Paris", "London", "New York", "Tokyo", "Berlin", "Madrid", "Rome", "Chicago", "Sydney",
             "Toronto", "San Francisco", "Lisbon"),
    "person": ("Mom", "Dad", "Alice", "Bob", "my sister", "my brother", "Sarah", "David", "the office",
               "Grandma", "John", "Maria"),
    "task": ("call the dentist", "buy milk", "pay the rent", "water the plants", "take my pills",
             "book a table", "pick up the kids", "send the report", "renew my passport", "feed the cat"),
    "genre": ("jazz", "rock", "classical", "hip hop", "pop", "country", "lo-fi", "blues", "reggae", "techno"),
    "artist": ("Adele", "the Beatles", "Miles Davis", "Taylor Swift", "Queen", "Beyonce", "Coldplay",
               "Bob Marley", "Daft Punk", "Mozart"),
    "place": ("the airport", "the train station", "work", "the office", "downtown", "Central Park",
              "the museum", "my hotel", "the stadium", "the city centre", "Grandma's house"),
    "poi": ("gas station", "pharmacy", "coffee shop", "supermarket", "hospital", "cash machine", "parking lot"),
    "room": ("kitchen", "living room", "bedroom", "bathroom", "hallway", "office", "garage", "dining room"),
    "content": ("I'm running late", "dinner is ready", "see you soon", "I'll call later", "happy birthday",
                "the meeting moved to Friday", "I'm on my way", "don't forget the tickets"),
    "percent": ("10", "20", "50", "75"),
    "colour": ("blue", "warm white", "red", "green", "purple"),
    # Domain words are slots too, as assistant designers write them: fifteen sentences cannot
    # teach a model that "alarms" is the plural of "alarm" or that an agenda is a calendar.
    "calendar": ("calendar", "agenda", "schedule", "diary", "plans"),
    "meeting": ("meeting", "appointment", "event"),
    "meetings": ("meetings", "appointments", "events"),
    "flight": ("flight", "plane"),
    "flights": ("flights", "trips", "bookings"),
    "alarm": ("alarm", "wake-up alarm", "morning alarm"),
    "alarms": ("alarms", "wake-up alarms"),
    "reminder": ("reminder", "note"),
    "reminders": ("reminders", "notes", "to-dos"),
    "song": ("song", "track", "tune"),
    "music": ("music", "songs", "tunes"),
    "msg": ("message", "text", "note"),
    "messages": ("messages", "texts"),
    "lights": ("lights", "light", "lamps"),
    "conditions": ("rain", "snow", "fog", "storms", "wind", "sunshine", "thunder", "hail"),
    "gear": ("an umbrella", "a coat", "sunscreen", "boots", "a jacket", "gloves"),
    "free": ("free", "busy", "available"),
    "dial": ("call", "phone", "ring", "dial"),
    "route": ("directions", "route", "way"),
    "navigate": ("navigate", "take me", "drive me", "guide me"),
    "brighter": ("brighter", "dimmer", "darker"),
    "dark": ("dark", "bright"),
}

LABELS: tuple[str, ...] = tuple(INTENTS)


@dataclasses.dataclass(frozen=True)
class Utterances:
    """Parallel lists: what was said, its intent (index into LABELS) and the template used."""

    texts: tuple[str, ...]
    intents: tuple[int, ...]
    templates: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)


def slots_of(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def split_templates(*, seed: int, val: int = 2, test: int = 4) -> dict[str, list[tuple[int, str]]]:
    """For each intent, ``test`` and ``val`` whole templates held out; the rest train."""
    rng = random.Random(seed)
    out: dict[str, list[tuple[int, str]]] = {"train": [], "val": [], "test": []}
    for label, templates in enumerate(INTENTS.values()):
        shuffled = rng.sample(templates, len(templates))
        out["test"] += [(label, t) for t in shuffled[:test]]
        out["val"] += [(label, t) for t in shuffled[test:test + val]]
        out["train"] += [(label, t) for t in shuffled[test + val:]]
    return out


def fill(template: str, rng: random.Random, per_template: int) -> list[str]:
    """Up to ``per_template`` distinct sentences from one template (one if it has no slots)."""
    names = slots_of(template)
    seen: list[str] = []
    for _ in range(per_template * 4):  # a few retries: small slot lists repeat
        text = template.format(**{n: rng.choice(SLOTS[n]) for n in names})
        if text not in seen:
            seen.append(text)
        if len(seen) == per_template or not names:
            break
    return seen


def generate(*, per_template: int, seed: int, val: int = 2, test: int = 4) -> dict[str, Utterances]:
    """Train/val/test utterances; no template appears in two splits."""
    rng = random.Random(seed + 1)
    out = {}
    for split, pairs in split_templates(seed=seed, val=val, test=test).items():
        rows = [(text, label, template) for label, template in pairs for text in fill(template, rng, per_template)]
        rng.shuffle(rows)
        out[split] = Utterances(*(tuple(col) for col in zip(*rows)))
    return out
