"""Take the screen: a synthetic app screen with labelled buttons (the agent's observation).

Input: {"task": str, "screen": "phone" | "desktop", "seed": int}. Output: the PNG (base64), the
buttons' labels and boxes, and the planning prompt with its token budget, as the VLM node takes
them ({"image", "prompt", "max_tokens"}; the other keys ride along for the parser).
"""

import random

import numpy as np
from actionlib import codec
from PIL import Image, ImageDraw

SIZES = {"phone": (360, 780), "desktop": (960, 540)}
LABELS = ["Settings", "Search", "Inbox", "Back", "Compose", "Profile", "Flights", "Help"]


def main(args: dict) -> dict:
    task = str(args.get("task") or "open the settings")
    w, h = SIZES.get(args.get("screen"), SIZES["phone"])
    rng = random.Random(int(args.get("seed", 0)))
    img = Image.fromarray(np.full((h, w, 3), 245, dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    elements = []
    for i, label in enumerate(rng.sample(LABELS, 6)):
        bw, bh = w // 3, h // 12
        x, y = (i % 2) * (w // 2) + w // 12, (i // 2 + 1) * (h // 5)
        draw.rectangle([x, y, x + bw, y + bh], fill=tuple(rng.randrange(60, 200) for _ in range(3)))
        draw.text((x + 8, y + bh // 3), label, fill=(255, 255, 255))
        elements.append({"label": label, "x": x + bw // 2, "y": y + bh // 2, "w": bw, "h": bh})
    return {
        "image": codec.encode(np.asarray(img), fmt="PNG"),
        "prompt": f"Task: {task}. Which button should be tapped? Answer as tap(<label>).",
        "max_tokens": int(args.get("max_tokens", 24)),
        "elements": elements,
        "task": task,
    }
