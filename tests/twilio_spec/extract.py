"""Extract what the Twilio stand-in checks from Twilio's OpenAPI description.

Run once, by hand, when updating to a newer description:

    python tests/twilio_spec/extract.py path/to/twilio_api_v2010.json

It writes messages.json beside this file: the parameters of CreateMessage and
the fields and statuses of the message resource it answers with.
"""

import json
import sys
from pathlib import Path

MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
FORM = "application/x-www-form-urlencoded"


def resolve(spec: dict, schema: dict) -> dict:
    """Inline a `$ref` to a component schema and drop the prose."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    if "items" in schema:
        schema = {**schema, "items": resolve(spec, schema["items"])}
    return {key: value for key, value in schema.items() if key != "description"}


def extract(spec: dict) -> dict:
    create = spec["paths"][MESSAGES_PATH]["post"]
    request = create["requestBody"]["content"][FORM]["schema"]
    (account_sid,) = (p for p in create["parameters"] if p["name"] == "AccountSid")
    message = spec["components"]["schemas"]["api.v2010.account.message"]
    return {
        "path": MESSAGES_PATH,
        "account_sid": resolve(spec, account_sid["schema"]),
        "request": {
            "title": request["title"],
            "required": request["required"],
            "properties": {
                name: resolve(spec, schema)
                for name, schema in request["properties"].items()
            },
        },
        "message": {
            "properties": {
                name: resolve(spec, schema)
                for name, schema in message["properties"].items()
            },
        },
    }


def main() -> None:
    source = Path(sys.argv[1])
    extracted = extract(json.loads(source.read_text()))
    target = Path(__file__).with_name("messages.json")
    target.write_text(json.dumps(extracted, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
