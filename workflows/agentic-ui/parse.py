"""Parse the VLM's plan into one UI action, and ask for its verification.

Input: {"screenshot": <screenshot output>, "plan": <VLM output {"text", ...}>, "_input": ...}.
The plan names a button (`tap(<label>)` or just its label); the action taps the centre of that
button. A plan that names none (a random-weight model's text, or a confused one) falls back to
the button whose label shares most words with the task, and says so (`from_model` false). The
output carries the screenshot and the verification prompt for the verify node.
"""

import re


def choose(text: str, task: str, elements: list[dict]) -> tuple[dict, bool]:
    by_label = {e["label"].lower(): e for e in elements}
    m = re.search(r"tap\(\s*([^)]+?)\s*\)", text, re.IGNORECASE)
    if m and m.group(1).lower() in by_label:
        return by_label[m.group(1).lower()], True
    for label, e in by_label.items():
        if re.search(rf"\b{re.escape(label)}\b", text, re.IGNORECASE):
            return e, True
    words = set(re.findall(r"\w+", task.lower()))
    return max(
        elements, key=lambda e: len(words & set(re.findall(r"\w+", e["label"].lower())))
    ), False


def main(args: dict) -> dict:
    shot, plan = args.get("screenshot") or {}, args.get("plan") or {}
    elements = shot.get("elements") or []
    if not elements:
        return {"error": "the screenshot has no buttons to act on"}
    task = shot.get("task", "")
    target, from_model = choose(str(plan.get("text", "")), task, elements)
    action = {"type": "tap", "label": target["label"], "x": target["x"], "y": target["y"]}
    return {
        "action": action,
        "from_model": from_model,
        "plan_text": plan.get("text", ""),
        "image": shot.get("image"),
        "prompt": (
            f"Task: {task}. Proposed action: tap({target['label']}) at ({target['x']}, "
            f"{target['y']}). Does it do the task? Answer yes or no."
        ),
        "max_tokens": 4,
    }
