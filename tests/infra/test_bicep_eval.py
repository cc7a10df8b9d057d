"""The offline evaluator the provisioning-check tests rely on computes what Bicep computes, and refuses what it
cannot compute instead of guessing."""
from __future__ import annotations

import pytest

from tests.infra.bicep_eval import DeploymentFailed, Template, Unsupported

SOURCE = """
param names string = 'a  b c'
param limit int = 0
param plan string = 'Flex'
var known = loadJsonContent('known.json')
var listed = filter(split(names, ' '), name => !empty(name))
var unknown = filter(listed, name => !contains(known, name))
var count = (limit == 0) ? ((plan == 'Flex') ? 40 : 1) : limit
var tooMany = ((plan != 'Flex') && (count > 100)) || (count < 0)
var message = 'unknown: ${join(unknown, ', ')} of ${length(listed)}; it\\'s ${toLower('OK')}'
var checked = empty(unknown) ? listed : fail(message)
var notTaken = true ? 'fine' : fail('never')
var host = environment().authentication.loginEndpoint
var ids = map(listed, name => {
  name: name
  id: known[name]
})
var encoded = uriComponent('http://localhost:4280/')
var merged = union(listed, ['b', 'z'])
var fromResource = site.properties.defaultHostName
var unknownFunction = dateTimeAdd('2020-01-01', 'P1D')
resource site 'Microsoft.Web/sites@2024-04-01' = if (limit > 0) {
  name: 'x'
  tags: empty(unknown) ? {} : fail('tags: ${message}')
}
output out string = '${count}-${tooMany}'
"""


@pytest.fixture()
def template_path(tmp_path):
    (tmp_path / "known.json").write_text('{"a": "id-a", "b": "id-b", "c": "id-c"}')
    path = tmp_path / "sample.bicep"
    path.write_text(SOURCE)
    return path


def test_parameters_variables_and_outputs(template_path):
    template = Template(template_path)
    assert template.var("listed") == ["a", "b", "c"]
    assert template.var("checked") == ["a", "b", "c"]
    assert template.var("count") == 40 and template.var("tooMany") is False
    assert template.output("out") == "40-false"
    assert Template(template_path, {"plan": "Premium", "limit": 101}).var("tooMany") is True
    assert Template(template_path, {"plan": "Premium"}).var("count") == 1
    assert template.var("host") == "https://login.microsoftonline.com/"
    assert template.var("ids") == [{"name": "a", "id": "id-a"}, {"name": "b", "id": "id-b"},
                                   {"name": "c", "id": "id-c"}]
    assert template.var("encoded") == "http%3A%2F%2Flocalhost%3A4280%2F"
    assert template.var("merged") == ["a", "b", "c", "z"]


def test_fail_raises_in_the_taken_branch_only(template_path):
    assert Template(template_path).var("notTaken") == "fine"
    template = Template(template_path, {"names": "a x y"})
    with pytest.raises(DeploymentFailed) as failure:
        template.var("checked")
    assert failure.value.message == "unknown: x, y of 3; it's ok"
    with pytest.raises(DeploymentFailed, match="^tags: unknown: x, y"):
        template.property(template.resource_body("site"), "tags")


def test_resources_conditions_and_what_cannot_be_computed(template_path):
    template = Template(template_path)
    assert template.resource_condition("site") is False
    assert Template(template_path, {"limit": 1}).resource_condition("site") is True
    with pytest.raises(Unsupported, match="site"):
        template.var("fromResource")
    stand_in = Template(template_path, symbols={"site": {"properties": {"defaultHostName": "x.net"}}})
    assert stand_in.var("fromResource") == "x.net"
    with pytest.raises(Unsupported, match="dateTimeAdd"):
        template.var("unknownFunction")
    with pytest.raises(KeyError):
        Template(template_path, {"notAParameter": 1})
