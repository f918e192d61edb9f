# A Python port of wskdeploy's docs/examples/src/member_process.js.
def main(params):
    member = params.get("member") or {}
    if member.get("city") in ("Shire", "the Shire"):
        member["region"] = "Eriador"
    return {"member": member, "region": member.get("region")}
