"""A run's model as PMML 4.4: the preparation and the nearest centre in one document.

Spark's own PMML export of a ``KMeansModel`` (``write().format("pmml")``) covers the
centres only, names the inputs ``field_0, field_1, ...``, and is not available over Spark
Connect. This document is written from the model's numbers instead
(:mod:`segmentation.export.spec`), so it reads the input's own columns and applies every
step of :mod:`segmentation.model.pipeline`: a number that is null, NaN or infinite is missing,
``ln1p`` (a value at or below -1 is missing, as Spark's ``log1p`` makes it null), the
median for a missing number, ``(x - mean) * (1/std)``, one indicator per known category
level, one for a level the model never saw and one always 0. The clusters are listed in
KMeans's index order (a tie goes to the first, as in Spark), each with its segment id as
``id``; the outputs are ``segment`` and ``distance`` (the square root of the winning
squared Euclidean distance).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from segmentation.export.spec import CategoricalStep, NumericStep, ScoringSpec
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.model.pipeline import MISSING_LEVEL

NAMESPACE = "http://www.dmg.org/PMML-4_4"


def scoring_pmml(spec: ScoringSpec, *, description: str, version: str) -> str:
    """The PMML document of ``spec``; ``description`` and ``version`` go in its header."""
    root = ET.Element("PMML", {"xmlns": NAMESPACE, "version": "4.4"})
    header = ET.SubElement(root, "Header", {"description": description})
    ET.SubElement(header, "Application", {"name": "segmentation", "version": version})
    dictionary = ET.SubElement(root, "DataDictionary",
                               {"numberOfFields": str(len(spec.numeric) + len(spec.categorical))})
    for step in spec.numeric:
        field = ET.SubElement(dictionary, "DataField", {"name": step.column,
                                                        "optype": "continuous",
                                                        "dataType": "double"})
        for value in ("NaN", "INF", "-INF"):  # not a finite number: missing, as in the model
            ET.SubElement(field, "Value", {"value": value, "property": "missing"})
    for cat in spec.categorical:
        ET.SubElement(dictionary, "DataField", {"name": cat.column, "optype": "categorical",
                                                "dataType": "string"})
    model = ET.SubElement(root, "ClusteringModel", {
        "modelName": "segments", "functionName": "clustering", "modelClass": "centerBased",
        "numberOfClusters": str(len(spec.centers))})
    schema = ET.SubElement(model, "MiningSchema")
    for name in [s.column for s in spec.numeric] + [c.column for c in spec.categorical]:
        ET.SubElement(schema, "MiningField", {"name": name, "usageType": "active",
                                              "invalidValueTreatment": "asIs"})
    _outputs(ET.SubElement(model, "Output"))
    local = ET.SubElement(model, "LocalTransformations")
    entries = [_numeric_entry(local, step, i) for i, step in enumerate(spec.numeric)]
    for i, cat in enumerate(spec.categorical):
        entries += _indicators(local, cat, i)
    measure = ET.SubElement(model, "ComparisonMeasure", {"kind": "distance"})
    ET.SubElement(measure, "squaredEuclidean")
    for name in entries:
        ET.SubElement(model, "ClusteringField", {"field": name, "compareFunction": "absDiff"})
    for segment, center in zip(spec.segment_ids, spec.centers, strict=True):
        cluster = ET.SubElement(model, "Cluster", {"id": str(segment),
                                                   "name": f"segment {segment}"})
        array = ET.SubElement(cluster, "Array", {"n": str(len(center)), "type": "real"})
        array.text = " ".join(repr(float(v)) for v in center)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _outputs(output: ET.Element) -> None:
    """``segment`` (the winning cluster's id) and ``distance`` (sqrt of its affinity)."""
    ET.SubElement(output, "OutputField", {"name": SEGMENT_COL, "feature": "entityId",
                                          "optype": "categorical", "dataType": "string"})
    ET.SubElement(output, "OutputField", {"name": "squared_distance", "feature": "affinity",
                                          "optype": "continuous", "dataType": "double"})
    distance = ET.SubElement(output, "OutputField", {
        "name": DISTANCE_COL, "feature": "transformedValue", "optype": "continuous",
        "dataType": "double"})
    _apply(distance, "sqrt", _field("squared_distance"))


def _numeric_entry(parent: ET.Element, step: NumericStep, index: int) -> str:
    """The derived fields of one numeric feature (see NumericStep); returns the last one's
    name, the entry of the vector."""
    cleaned = _field(step.column)
    if step.log1p:  # Spark's log1p is null at or below -1
        cleaned = _if(_call("greaterThan", _field(step.column), _number(-1.0)),
                      _call("ln1p", _field(step.column)), _missing())
    name = _derived(parent, f"n{index} {step.column}", cleaned)
    value = _field(name)
    if step.median is not None:
        value = _if(_call("isMissing", _field(name)), _number(step.median), _field(name))
    if step.scale is not None:
        value = _call("*", _call("-", value, _number(step.shift)), _number(step.scale))
    return _derived(parent, f"x{index} {step.column}", value)


def _indicators(parent: ET.Element, step: CategoricalStep, index: int) -> list[str]:
    """One indicator per known level, one for a level never seen, one always 0."""
    level = _derived(parent, f"c{index} {step.column}", _if(
        _call("isMissing", _field(step.column)), _text(MISSING_LEVEL), _field(step.column)),
        optype="categorical", data_type="string")
    names = []
    for value in step.levels:
        names.append(_derived(parent, f"{step.column}={value}",
                              _if(_call("equal", _field(level), _text(value)),
                                  _number(1.0), _number(0.0))))
    unseen = _number(1.0)
    for name in names:
        unseen = _call("-", unseen, _field(name))
    names.append(_derived(parent, f"{step.column}=(unseen)", unseen))
    names.append(_derived(parent, f"{step.column}=(invalid)", _number(0.0)))
    return names


def _derived(parent: ET.Element, name: str, expression: ET.Element, *,
             optype: str = "continuous", data_type: str = "double") -> str:
    field = ET.SubElement(parent, "DerivedField", {"name": name, "optype": optype,
                                                   "dataType": data_type})
    field.append(expression)
    return name


def _call(function: str, *arguments: ET.Element) -> ET.Element:
    element = ET.Element("Apply", {"function": function})
    element.extend(arguments)
    return element


def _apply(parent: ET.Element, function: str, *arguments: ET.Element) -> None:
    parent.append(_call(function, *arguments))


def _if(condition: ET.Element, then: ET.Element, otherwise: ET.Element) -> ET.Element:
    return _call("if", condition, then, otherwise)


def _field(name: str) -> ET.Element:
    return ET.Element("FieldRef", {"field": name})


def _number(value: float) -> ET.Element:
    """``value`` exactly: the shortest digits that give back the same double."""
    element = ET.Element("Constant", {"dataType": "double"})
    element.text = repr(float(value))
    return element


def _text(value: str) -> ET.Element:
    element = ET.Element("Constant", {"dataType": "string"})
    element.text = value
    return element


def _missing() -> ET.Element:
    return ET.Element("Constant", {"dataType": "double", "missing": "true"})
