"""The built-in metric families, one file each; importing this package registers them, in this order (the order of
record keys, `--metrics` help and table columns). A new built-in family is one file here and its name below."""
from importlib import import_module

# cmmd, vendi and human come last: added later and off by default, they leave the order of every existing key
# (records, --metrics help, table columns) as it was. human is recorded by `ganeval human score`, never computed.
# The memorization families (realism reads the reference; the others --train) follow them, for the same reason,
# then the class-conditional ones.
BUILT_IN = ("fid", "inception_score", "kid", "prdc", "modes", "ndb", "fid_infinity", "is_infinity", "cmmd", "vendi",
            "human", "realism", "copies", "authpct", "ct", "fld", "mifid", "ifid", "label_accuracy", "class_pr",
            "cas")

for _module in BUILT_IN:
    import_module(f"{__name__}.{_module}")
