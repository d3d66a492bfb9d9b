"""Reads Kubernetes manifests (multi-document YAML) and prints them as JSON, with a schema check.

Usage: python3 k8s-validate.py FILE...
Prints {"documents": [{"file", "doc"}], "schema": str | null, "errors": [str]}.

The schema check walks every object against the models of the Kubernetes Python client (Debian
package python3-kubernetes), which are generated from the Kubernetes OpenAPI spec: an unknown
field, a wrong type, a missing required field or a value outside an enum is an error, as with
`kubeconform -strict`. Without that package only the YAML is parsed and "schema" is null.
"""
import json
import sys

import yaml

try:
    import kubernetes
    from kubernetes import client
    from kubernetes.client.configuration import Configuration
except ImportError:  # the caller reports that the schema check did not run
    kubernetes = None
    client = None

PRIMITIVES = {
    'str': (str,),
    'int': (int,),
    'float': (int, float),
    'bool': (bool,),
    'datetime': (str,),
    'date': (str,),
}


def model_for(api_version, kind):
    """Model class name for an object; autoscaling/v2 falls back to v2beta2, its identical
    predecessor, on clients generated before v2 went GA (python3-kubernetes 22 in Debian 12)."""
    group, _, version = api_version.rpartition('/')
    version_part = version[0].upper() + version[1:]
    name = f'{version_part}{kind}'
    if hasattr(client, name):
        return name, None
    if api_version == 'autoscaling/v2' and hasattr(client, f'V2beta2{kind}'):
        return f'V2beta2{kind}', 'autoscaling/v2 checked against the v2beta2 models (same schema)'
    return None, None


def required_fields(klass):
    """Attributes whose setter refuses None once client-side validation is on."""
    required = set()
    for attr in klass.openapi_types:
        off = Configuration()
        off.client_side_validation = False
        obj = klass(local_vars_configuration=off)
        obj.local_vars_configuration.client_side_validation = True
        try:
            setattr(obj, attr, None)
        except ValueError:
            required.add(attr)
    return required


def check(value, typ, path, errors):
    if typ in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[typ]) and not (typ != 'bool' and isinstance(value, bool))
        if not ok:
            errors.append(f'{path}: expected {typ}, got {type(value).__name__} {value!r}')
        return
    if typ == 'object':
        return
    if typ.startswith('list['):
        if not isinstance(value, list):
            errors.append(f'{path}: expected a list')
            return
        for i, item in enumerate(value):
            check(item, typ[5:-1], f'{path}[{i}]', errors)
        return
    if typ.startswith('dict('):
        if not isinstance(value, dict):
            errors.append(f'{path}: expected a map')
            return
        inner = typ[typ.index(',') + 1:-1].strip()
        for k, v in value.items():
            check(v, inner, f'{path}.{k}', errors)
        return
    klass = getattr(client, typ)
    if not isinstance(value, dict):
        errors.append(f'{path}: expected an object ({typ})')
        return
    by_key = {key: attr for attr, key in klass.attribute_map.items()}
    for key in value:
        if key not in by_key:
            errors.append(f'{path}: unknown field "{key}" in {typ}')
    for attr in required_fields(klass):
        if klass.attribute_map[attr] not in value:
            errors.append(f'{path}: missing required field "{klass.attribute_map[attr]}" in {typ}')
    # Enum and pattern checks live in the setters: run them on the primitive values.
    on = Configuration()
    on.client_side_validation = False
    probe = klass(local_vars_configuration=on)
    probe.local_vars_configuration.client_side_validation = True
    for key, v in value.items():
        attr = by_key.get(key)
        if attr is None:
            continue
        sub = klass.openapi_types[attr]
        check(v, sub, f'{path}.{key}', errors)
        if sub in PRIMITIVES and v is not None:
            try:
                setattr(probe, attr, v)
            except ValueError as e:
                errors.append(f'{path}.{key}: {e}')


def main(paths):
    documents, errors, notes = [], [], []
    for path in paths:
        with open(path, encoding='utf-8') as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                documents.append({'file': path, 'doc': doc})
                if client is None or 'apiVersion' not in doc or 'kind' not in doc:
                    continue
                if doc['apiVersion'].startswith('kustomize.config.k8s.io/'):
                    continue  # a build file for kubectl, not an API object
                name, note = model_for(doc['apiVersion'], doc['kind'])
                if name is None:
                    errors.append(f'{path}: no schema for {doc["apiVersion"]} {doc["kind"]}')
                    continue
                if note and note not in notes:
                    notes.append(note)
                check(doc, name, f'{path}:{doc["kind"]}', errors)
    schema = None if client is None else f'kubernetes python client {kubernetes.__version__}'
    if schema and notes:
        schema += ' (' + '; '.join(notes) + ')'
    json.dump({'documents': documents, 'schema': schema, 'errors': errors}, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1:])
