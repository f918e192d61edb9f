# A Python port of wskdeploy's docs/examples/src/member_join.js: join the fellowship.
import time


def main(params):
    member = {
        "name": params.get("name"),
        "city": params.get("place"),
        "occupation": params.get("job"),
        "joined": int(time.time() * 1000),
        "organization": "fellowship",
    }
    print("member=", member)
    return {"member": member}
