# A Python port of wskdeploy's docs/examples/src/hello_plus.js.
def main(params):
    msg = f"Hello, {params.get('name')} from {params.get('place')}"
    details = f"You have {params.get('children')} children and are {params.get('height')} m. tall."
    return {"greeting": msg, "details": details}
