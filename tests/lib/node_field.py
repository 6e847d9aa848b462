"""node_field.py NODE FIELD < `hitlessctl nodes --json`: prints FIELD of
NODE ("" when the node or the field is absent; dicts and lists as JSON)."""
import json
import sys

n = {n["node_id"]: n for n in json.load(sys.stdin)["nodes"]}.get(sys.argv[1], {})
v = n.get(sys.argv[2], "")
print(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)
