"""Representative inputs of the agentic-ui workflow: a task and the screen it runs on.

python3 workflows/agentic-ui/gen_inputs.py > workflows/agentic-ui/inputs.jsonl
"""

import json

TASKS = [
    "open the settings",
    "search for flights to Lisbon",
    "go back to the inbox",
    "write a new message",
    "show my profile",
]

if __name__ == "__main__":
    for seed in range(1, 21):
        screen = "desktop" if seed % 2 == 0 else "phone"
        task = TASKS[(seed - 1) % len(TASKS)]
        print(json.dumps({"task": task, "screen": screen, "seed": seed}))
