"""Outdated: the last word on a genuine template of an older spec of the same version.

Its recorded identity is intact (the fingerprint holds, the template id is this one, only the spec
hash differs): that is one finding, ``template-outdated``, first, with the way out (``juesuan
migrate``). Its hidden sheets (the identity sheet, the code list) differ from the current spec's
because the spec changed, not because the unit changed them, so what the checks before found on
them is withdrawn, and so is ``template-spec-changed``. The one check that revises the findings
before it rather than adding to them."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.findings import ERROR, Finding
from .reading import Reading


def check(reading: Reading) -> Iterator[Finding]:
    plan, template = reading.the_plan, reading.template
    codes = reading.codes()
    if (not reading.meta or template["spec_hash"] == plan.spec.hash or template["id"] != plan.spec.template
            or "fingerprint-mismatch" in codes or "identity-mismatch" in codes):
        return iter(())
    hidden = {s.name for s in plan.sheets if s.state != "visible"}

    def on_hidden(f: Finding) -> bool:
        where = f.cell or ""
        return (where.split("!", 1)[0] if "!" in where else where) in hidden

    reading.findings[:] = [f for f in reading.findings if f.code != "template-spec-changed" and not on_hidden(f)]
    reading.findings.insert(0, Finding(
        "template-outdated", ERROR,
        f"按旧版模板填报：本工作簿由 {template['version']} 版的旧版模板生成，本轮的代码表或模板已更新。"
        "所填数据可以保留：主管部门可用 juesuan migrate 把它迁移为新模板，由单位核对后报回；或按新模板重新填报",
        file=reading.path, expected=plan.spec.hash, actual=template["spec_hash"]))
    return iter(())
