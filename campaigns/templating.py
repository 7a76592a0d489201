"""SMS templates: Django's template language over plain data, nothing else.

The context holds dicts, not model instances, so a template can read the
contact, the trigger event and the campaign but call no method on them.
"""

from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode, URLNode
from django.template.loader_tags import ExtendsNode, IncludeNode

from regal.errors import RegalError

ENGINE = Engine(autoescape=False, string_if_invalid="", builtins=[])
# Built-in tags that reach past the data a template is given: the server's
# modules ({% debug %} with DEBUG on), template files and the URL map. They are
# refused when the step is saved rather than found out at every send.
FORBIDDEN_TAGS = {
    DebugNode: "debug",
    ExtendsNode: "extends",
    IncludeNode: "include",
    URLNode: "url",
}


class InvalidTemplateError(RegalError):
    code = "invalid_template"


def compile_template(source: str):
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise InvalidTemplateError(f"the template does not compile: {exc}") from exc
    for node_type, tag in FORBIDDEN_TAGS.items():
        if template.nodelist.get_nodes_by_type(node_type):
            raise InvalidTemplateError(f"SMS templates may not use {{% {tag} %}}")
    return template


def render_template(source: str, *, contact, event=None, campaign=None) -> str:
    context = {
        "contact": {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
            "timezone": contact.timezone,
            "properties": contact.properties,
        },
        "event": (
            {"name": event.name, "properties": event.properties} if event else {}
        ),
        "campaign": {"name": campaign.name} if campaign else {},
    }
    return compile_template(source).render(Context(context)).strip()
