"""The agent step's result: the parsed action and the verifier's verdict.

Input: {"parse": <parse output>, "verify": <VLM output {"text", ...}>, "_input": ...}.
"""


def main(args: dict) -> dict:
    parse, verify = args.get("parse") or {}, args.get("verify") or {}
    text = str(verify.get("text", "")).strip()
    return {
        "action": parse.get("action"),
        "from_model": parse.get("from_model"),
        "verified": text.lower().startswith("yes"),
        "verifier_text": text,
    }
