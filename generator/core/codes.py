"""The finding catalogue: one typed entry per finding code (frictionless-py's error classes).

Every finding the tool makes has a stable kebab-case code; this module says, once, what each code is:
its one severity (错误 = 强制, 提示, 信息), a Chinese title shown to people in place of the code, what
to do about it (怎么改), and a line of documentation (when it happens). Feedback files, the web
pages, the HTML reports and the terminal take the title and the advice from here;
``docs/findings.md`` is generated from it (``juesuan findings --markdown``) and a test keeps it
current; another test fails on a code the package uses without an entry here, or used with another
severity than its entry's. Where one check can judge a thing two ways (a 强制 rule and a 提示 rule,
an unknown 科目 with or without its name), those are two codes.

The table below is the catalogue's source: one line a code, fields separated by `` | ``:
code | severity (E/W/I) | title | advice | documentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# the severities of generator.core.findings (not imported: findings asks this module for titles)
ERROR, WARNING, INFO = "error", "warning", "info"
_SEVERITY_ZH = {ERROR: "错误", WARNING: "提示", INFO: "信息"}


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str  # 标题: what people see instead of the code
    advice: str  # 怎么改
    doc: str  # when it happens (docs/findings.md)
    group: str  # the catalogue's section (文件, 结构, 数据, 审核公式, …)


_SEV = {"E": ERROR, "W": WARNING, "I": INFO}

_TABLE = """
# 文件：能否打开
file-empty | E | 文件为空 | 用下发的模板填报，另存为 .xlsx 后重新报送 | 收到的文件没有内容。
file-not-xlsx | E | 不是 Excel 工作簿 | 用下发的模板填报，另存为 .xlsx 后重新报送 | 文件不是 .xlsx（可能是 CSV、PDF、网页或改了扩展名的其他文件）。
file-legacy-xls | E | 旧版 .xls 文件 | 用 Excel 或 WPS 打开，另存为 .xlsx 后重新报送 | 收到的是 Excel 97–2003 格式（.xls）。
file-encrypted | E | 文件设有打开密码 | 去掉打开密码后重新报送 | 工作簿加了密，不能读取。
file-decrypt-failed | E | 无法解密 | 核对打开密码，或去掉密码后重新报送 | 用所给的打开密码解不开。
file-has-macros | E | 工作簿含宏 | 另存为不含宏的 .xlsx 后重新报送 | 含 VBA 宏的工作簿按规定拒收。
file-corrupt | E | 文件已损坏 | 用下发的模板重新填报，另存为 .xlsx 后报送 | 工作簿结构损坏，无法读取。
file-corrupt-zip | E | 文件不完整或已损坏 | 重新保存后报送（传输中断时常见） | 压缩包结构错误。
file-unreadable | E | 无法读取文件 | 重新保存后报送 | 系统读不到这个文件（权限、路径等）。
file-unreadable-structure | E | 工作簿结构异常 | 用下发的模板重新填报后报送 | 工作簿里的内容组织得不像下发的模板，无法读取。
file-too-large | E | 文件过大 | 删除与报表无关的内容，另存后重新报送 | 文件大小超过上限。
file-too-complex | E | 工作簿过于庞大 | 用下发的模板重新填报后报送 | 结构嵌套过深或元素过多，为安全起见拒绝读取。
file-not-regular | E | 不是普通文件 | 放入普通的 .xlsx 文件 | 管道、设备或文件夹，未读取（收集时列为跳过）。
file-read-crashed | E | 读取时出错 | 重新保存后报送；仍不行请联系财务部门 | 读取该文件的进程异常退出。
file-time-future | W | 文件时间在将来 | 核对发送方电脑的时钟 | 发送方电脑的时钟不对；报送先后按收到的时间排列。
zip-bomb | E | 疑似压缩炸弹 | 用下发的模板重新填报后报送 | 解压后体积异常，已拒绝。
zip-encrypted | E | 压缩包加密 | 去掉密码后重新报送 | 工作簿内的部件加了 zip 密码。
zip-too-many-parts | E | 部件过多 | 用下发的模板重新填报后报送 | 工作簿含的部件数超过上限。
zip-unsupported | E | 压缩格式不受支持 | 用 Excel 或 WPS 重新保存为 .xlsx 后报送 | 使用了不常见的压缩方式。
xml-doctype | E | 含不安全的声明 | 用下发的模板重新填报后报送 | XML 中有 DOCTYPE 或实体声明（可能是攻击）。
xml-malformed | E | 内容已损坏 | 重新保存后报送 | 工作簿内的 XML 已损坏。
package-ambiguous | E | 工作簿结构有歧义 | 用 Excel 或 WPS 重新保存后报送 | 同名部件或多个主文档，不同软件会读到不同内容，已拒绝。
package-part-missing | E | 工作簿缺少部件 | 用下发的模板重新填报后报送 | 工作簿缺少必需的部件。
sheet-part-missing | E | 工作表缺失 | 用下发的模板重新填报后报送 | 工作表指向的部件不存在。
shared-string-invalid | E | 文字内容损坏 | 重新保存后报送 | 单元格引用了不存在的共享文字。
bad-cell-reference | E | 单元格地址无法识别 | 用 Excel 或 WPS 重新保存后报送 | 单元格地址或行号超出范围。
too-many-sheets | E | 工作表过多 | 删除多余的工作表，或用原模板重新填报 | 工作表数超过上限。
sheet-too-large | E | 工作表过大 | 删除多余的内容，或用原模板重新填报 | 单元格数超过上限。
findings-truncated | W | 问题过多，只列出一部分 | 先改正列出的问题后重新报送 | 一份文件的问题超过上限，其余只按类别计数。
external-link | E | 引用了外部数据 | 删除对其他文件的引用，只填数字 | 工作簿引用了其他工作簿或外部数据，这些数据不会被读取。
defined-name-unexpected | E | 多出了定义的名称 | 在原模板中重新填报 | 名称可以在公式中代替任何内容，模板中没有的名称不允许。
# 模板与标识
not-a-template | E | 不是下发的模板 | 用财务部门下发的模板填报 | 找不到模板标识。
template-mismatch | E | 不是本套模板 | 用本轮下发的模板填报 | 模板标识属于另一套表。
template-version-unknown | E | 模板版本无法识别 | 用本轮下发的模板重新填报 | 模板版本不在已知规格中。
template-spec-changed | E | 模板生成后规格已变 | 用本轮下发的新模板重新填报，或由财务部门迁移 | 模板标识记录的规格与现行规格不一致（或标识被改动）。
template-version-mismatch | E | 不是本轮的模板版本 | 用本轮下发的新模板重新填报 | 收集所用规格与工作簿的规格不同。
template-outdated | E | 按旧版模板填报 | 所填的数可以保留：财务部门用 juesuan migrate 迁移到新模板后核对，或用新模板重新填报 | 工作簿是本年度较早下发的模板（标识完好），此后规格有更新（如导入了新的科目代码表）；隐藏的标识表、代码表因此不同，不算改动。
spec-codes-missing | E | 规格的代码表缺少所用科目 | 先用 juesuan codes import 导入本轮的代码表，或用生成该模板的规格读取 | 工作簿用到了读取所用规格的代码表中没有的科目，工作簿也未显示其名称。
meta-sheet-missing | E | 标识表被删除 | 在原模板中重新填报 | 隐藏的标识工作表不见了。
meta-changed | E | 标识被改动 | 在原模板中重新填报 | 隐藏的标识工作表内容被改。
doc-properties-missing | W | 文档属性中的标识被删除 | 无需处理；以后请用原模板填报 | 只能按标识表核对。
identity-mismatch | E | 模板标识不一致 | 在原模板中重新填报 | 标识表与文档属性的标识不同，或无法识别。
fingerprint-mismatch | E | 指纹校验不通过 | 在财务部门下发的原模板中重新填报 | 单位标识或模板结构被改动，或模板不是用本轮的密钥生成的。
default-key-in-use | W | 未设置指纹密钥 | 财务部门：用 juesuan init 建立轮次或 juesuan key init 生成密钥 | 按公开的内置密钥校验，任何人都能生成可通过校验的工作簿。
wrong-unit | E | 工作簿属于另一单位 | 报送本单位自己的工作簿 | 工作簿标识的单位与报送的单位不同。
wrong-year | E | 年度不符 | 用本年度的模板填报 | 工作簿标识的年度与本轮不同。
unit-unknown | E | 单位不在清单中 | 核对单位代码；如是新单位，请联系财务部门登记 | 工作簿标识的单位代码不在单位清单中。
# 结构：表格是否被改动
label-changed | E | 固定内容被改动 | 不要改动表头和项目名称；在原模板中重新填报 | 应为固定文字的单元格内容被改。
formula-changed | E | 公式被改动 | 不要改动公式；在原模板中重新填报 | 公式单元格的公式与模板不同。
formula-replaced | E | 公式被删除或改为常数 | 不要改动公式；在原模板中重新填报 | 公式单元格里填了数。
row-inserted | E | 插入了行 | 不要插入或删除行；新增科目填在“新增科目”空行 | 表格多出了行。
row-deleted | E | 删除了行 | 在原模板中重新填报 | 表格少了行。
col-inserted | E | 插入了列 | 在原模板中重新填报 | 表格多出了列。
col-deleted | E | 删除了列 | 在原模板中重新填报 | 表格少了列。
merge-changed | E | 合并单元格被改变 | 在原模板中重新填报 | 表头的合并单元格与模板不同。
sheet-missing | E | 缺少工作表 | 在原模板中重新填报 | 模板中的某张表不见了。
sheet-extra | E | 多出工作表 | 删除新增的工作表，或在原模板中重新填报 | 工作簿多出了模板中没有的表。
sheet-name-duplicate | E | 工作表名重复 | 在原模板中重新填报 | 两张表同名（不区分大小写），显示的与核对的可能不是同一张。
sheet-order-changed | W | 工作表顺序被改变 | 在原模板中重新填报 | 工作表的先后次序与模板不同。
sheet-unprotected | W | 工作表保护被取消 | 无需处理；请勿改动表格结构 | 工作表的保护已取消（各单元格仍逐一核对）。
sheet-hidden | E | 工作表被隐藏 | 取消隐藏后重新报送 | 被隐藏的表中的数看不到，却会被收录。
hidden-sheet-visible | W | 隐藏的工作表被显示 | 在原模板中重新填报 | 模板中隐藏的表被取消隐藏。
hidden-sheet-state | I | 隐藏方式变了 | 无需处理 | LibreOffice 另存时改变了隐藏的工作表的隐藏方式（仍为隐藏）。
structure-unlocked | I | 工作簿结构保护未保留 | 无需处理 | 用 LibreOffice 或 WPS 保存时常见；各表已逐格核对。
data-hidden | E | 有数据的行或列被隐藏 | 取消隐藏，核对后重新报送 | 看不到的数会被收录。
number-format-changed | E | 数字显示格式被改 | 在原模板中重新填报 | 屏幕上显示的数与实际值不同。
stale-cached-value | E | 文件保存前没有重新计算 | 用 Excel 或 WPS 打开，重新计算（Ctrl+Alt+F9）后保存，再报送 | 公式显示的结果与按公式计算的结果不同（结果过期或被改动）。
# 数据：填的数
number-as-text | E | 数字填成了文字 | 在该单元格重新输入数字（不带引号、空格或其他文字） | 电子表格把这个单元格当文字，不计入合计。
not-a-number | E | 不是数字 | 该单元格只能填数字金额（万元） | 金额单元格里填了文字或无法识别的内容。
cell-error-value | E | 单元格显示错误值 | 改为数字金额 | 单元格里是 #VALUE!、#DIV/0! 之类的错误值。
negative-value | E | 不应为负数 | 改为非负数；确为负数的请与主管部门联系 | 金额为负。
too-many-decimals | W | 超过两位小数 | 金额保留两位小数（万元） | 报告中按两位小数显示，保留原值。
count-not-whole | E | 数量不是整数 | 数量（人数、辆、台（套））填整数 | 未导入；表单中格式为 count 的单元格。
formula-in-input | W | 填的是公式 | 直接填写数字，不要填公式 | 按公式的计算结果读入。
formula-in-text-cell | E | 文字单元格填了公式 | 直接填写文字（科目代码、名称、说明），不要填公式 | 未导入。
formula-forbidden | E | 填了不允许的公式 | 直接填写数字，不要填公式 | 公式引用了其他单元格、名称或不支持的函数，未计算、未导入。
value-outside-input | E | 填在了非填报单元格 | 删除该单元格的内容；数据只填在浅黄色的单元格中 | 内容未导入。
code-unknown | W | 科目代码不在代码表中 | 核对科目代码；确属新科目，保留所填名称即可 | 已按填写的名称导入。
code-unknown-unnamed | E | 科目代码不在代码表中且没有名称 | 核对科目代码；确属新科目，请在名称栏填写科目名称 | 代码表中没有这个科目，也没有填名称。
code-malformed | E | 科目代码格式不对 | 填写 7 位项级科目代码 | 本行未导入。
duplicate-code | E | 科目重复 | 同一科目只填一行，把金额合并到已有的行 | 同一科目出现在两行，金额已合并计入。
spare-row-without-code | E | 新增科目行没有代码 | 在该行填写 7 位科目代码，或清除该行的金额 | 金额未导入。
text-too-long | E | 文字过长 | 精简后重新填写 | 超过单元格能保存的 32,767 个字符（未导入），或超过该栏的字数上限（只收录前面一部分）。
cover-field-too-long | E | 封面内容过长 | 精简后重新填写 | 只收录前面一部分。
# 审核公式
rule-failed | E | 审核不通过（强制） | 核对所列单元格的数，改正填错的一侧（审核表中该行会变为“通过”） | 一条强制审核公式不成立，差额超出尾数误差。
rule-warning | W | 审核提示 | 核对所列单元格的数；确有原因的，在审核表的“差异说明”栏写明 | 一条提示性审核公式不成立。
rounding-difference | I | 尾数差异 | 无需处理 | 差额在各数 ±0.005 累计的尾数误差范围内。
empty-table-statement-missing | E | 空表缺少说明 | 本表无数据时，在表下方的说明栏写明原因（如“本单位无此项支出”） | 强制：无数据的表须有空表说明。
empty-table-statement-advised | W | 空表宜写说明 | 在表下方的说明栏写明本表无数据的原因 | 提示：无数据的表宜有空表说明。
# 附件（绩效自评）
indicator-total-not-100 | E | 指标分值合计不是 100 | 调整各指标分值，使执行率 10 分与各指标分值合计为 100 | 附件2/3 的分值合计不对。
indicator-weight-mismatch | E | 一级指标分值与其下合计不符 | 核对一级指标标明的分值与其下各指标分值 | 附件2/3 的一级指标分值。
indicator-score-missing | W | 有分值没有得分 | 填写该指标的得分 | 附件2/3 的指标。
indicator-score-over | E | 得分超过分值 | 得分不能超过分值 | 附件2/3 的指标。
indicator-score-mismatch | W | 得分与评分规则不符 | 按指标值与实际完成值核对得分 | 数值指标按规则可以自动评分。
indicator-reverse-proportional | W | 反向指标按比例计分 | 反向指标已达成时应得满分，请核对得分 | 成本类等反向指标的得分。
indicator-deviation-missing | W | 缺少偏差原因 | 填写偏差原因分析及改进措施 | 未完成或得分不满的指标须说明原因。
indicator-unparsed | I | 定性指标 | 无需处理 | 指标值不是数值，也不是可判定的定性表述，未自动评分。
fujian3-budget-mismatch | W | 项目预算合计与附件1 不符 | 核对附件3 各项目全年预算数与附件1 项目支出本年预算数 | 附件3 与附件1。
# 收集
submission-duplicate | W | 重复报送 | 无需处理 | 与已收录的一份报送内容完全相同，未重复入库。
aggregate-unit-report | E | 汇总单位报送了本级报表 | 本级的数由其“本级”单位报送 | 汇总单位只汇总下级单位。
consolidated-workbook | E | 这是汇总工作簿 | 报送本单位自己的报表 | 汇总工作簿不作为有下级单位的本轮报送收录。
consolidated-report | I | 汇总工作簿 | 无需处理 | 收到的是由 juesuan consolidate 生成的汇总工作簿。
draft-consolidation | E | 汇总草稿不能报送 | 各单位审核通过后重新汇总，再报送正式汇总 | 草稿含未经审核的报表。
consolidation-submitted | I | 部门汇总报送 | 无需处理 | 全部下级审核通过后的汇总，作为该汇总单位的报送，由上级审核。
department-forms-received | I | 部门自己的附件1–3 | 无需处理 | 部门的汇总工作簿填好附件1–3 后报回（状态 部门附件），汇总与发布该部门时采用。
collect-unfinished | W | 上次收集没有完成 | 重新运行 juesuan collect（已收录的文件不会重复入库） | 数据库中可能缺少上次收集的部分文件。
collect-running | E | 收集正在进行 | 等它结束后再运行 | 另一收集或重新审核正在写数据库。
recheck-unplaced | W | 新版中无处放置的数 | 核对这个数在新版中的去处 | 重新审核时，原数在新版规格中没有对应位置。
recheck-failed | E | 重新审核出错 | 联系技术支持 | 按新规格审核时出错。
units-unreadable | E | 无法读取单位清单 | 检查文件路径与编码（UTF-8） | 单位清单。
units-bad-header | E | 单位清单缺少表头 | 第一行写 code,name,parent | 单位清单。
units-bad-row | E | 单位清单缺少代码或名称 | 补全该行 | 该行已跳过。
units-duplicate | E | 单位代码重复 | 每个单位只列一行 | 该行已跳过。
units-parent-unknown | E | 上级单位不在清单中 | 补上上级单位或改正上级代码 | 按顶层单位处理。
units-cycle | E | 上级关系成环 | 改正上级代码 | 按顶层单位处理。
codes-invalid-code | E | 科目代码格式不对 | 类 3 位、款 5 位、项 7 位数字 | 科目代码表导入。
codes-name-missing | E | 科目没有名称 | 补上名称 | 科目代码表导入。
codes-duplicate | E | 科目重复且名称不同 | 每个科目只保留一个名称 | 科目代码表导入。
codes-empty | E | 代码表中没有科目 | 给出 code,name 两列 | 科目代码表导入。
codes-parent-missing | E | 上级科目不在代码表中 | 补上该科目的类、款 | 科目代码表导入。
codes-required-missing | E | 缺少固定行所用的科目 | 保留公开表固定行所用的代码 | 科目代码表导入。
# 汇总
consolidate-unit-missing | W | 单位未报送 | 催报，或确认后照样汇总 | 该单位没有报送，未纳入汇总。
consolidate-unit-excluded | W | 单位未纳入汇总 | 按所列原因处理（改正错误、审核通过）后重新汇总 | 有错误或未经审核通过的报送不纳入。
consolidate-name-conflict | I | 科目名称不一致 | 无需处理 | 各单位对同一科目的名称不同，汇总表用前者。
consolidate-readback-mismatch | E | 汇总工作簿回读不一致 | 联系技术支持 | 汇总工作簿读回的数与汇总数不同。
consolidate-draft | W | 汇总草稿 | 只供查看，不得上报或公开 | 未经审核通过的报表也已汇总在内。
consolidate-no-department-forms | I | 汇总不含附件1–3 | 部门在汇总工作簿中填写附件1–3 后报回 | 汇总不合计各单位的附件；尚未收到部门自己的附件。
consolidate-department-forms | I | 附件1–3 为部门自己填报 | 无需处理 | 汇总的附件1–3 取自部门报回的汇总工作簿，不是各单位之和。
department-forms-stale | W | 部门附件所在的汇总已过时 | 用最新的汇总工作簿重新填写附件1–3 后报回 | 部门填附件之后又有单位报送或改正，汇总的数变了，其附件未采用。
# 生成与迁移
data-unknown-table | E | 数据中的表不在模板中 | 核对数据文件 | 生成模板时，数据未导入。
data-unknown-row | E | 数据中的行不在表中 | 核对数据文件 | 生成模板时，数据未导入。
data-unknown-col | E | 数据中的栏不在表中 | 核对数据文件 | 生成模板时，数据未导入。
data-no-cell | E | 该格不填数 | 核对数据文件 | 生成模板时，数据未导入。
data-formula-mismatch | E | 数据与公式结果不符 | 核对数据文件中的合计数 | 给公式单元格的数与公式计算结果不同（超出尾数误差）。
data-formula-rounding | I | 数据与公式结果有尾数差异 | 无需处理 | 给公式单元格的数与公式计算结果的差在尾数误差内。
migrate-same-version | I | 已是该版本 | 无需处理 | 按该版重新生成。
migrate-version-gap | W | 跨版本迁移 | 逐条核对迁移结果 | 新版写明由另一版迁移而来，映射可能不完整。
migrate-mapping-invalid | E | 版本映射有误 | 改正规格中的映射 | 迁移用的映射。
migrate-unplaced | E | 新版中无处安放的数 | 核对后在新版中手工填入，或确认舍弃（--allow-loss） | 原数在新版中没有对应位置。
migrate-unplaced-allowed | W | 新版中无处安放的数（已允许舍弃） | 核对被舍弃的数 | 按 --allow-loss 未迁移。
migrate-unplaced-zero | I | 新版中无此项（原为 0） | 无需处理 | 原数为 0。
migrate-note-dropped | W | 空表说明无处填写 | 在新版中重新写说明 | 新版中没有对应的说明栏。
migrate-explanation-dropped | W | 差异说明无对应审核 | 在新版中重新写差异说明 | 新版中没有对应的审核公式。
migrate-derived-changed | W | 按新版公式重算 | 核对重算后的数 | 合计等公式数按新版公式重新计算。
migrate-build-failed | E | 无法生成新版工作簿 | 联系技术支持 | 迁移失败。
migrate-value-mismatch | E | 迁移结果无法回读 | 联系技术支持 | 迁移生成的工作簿读回的数不一致。
migrate-codes-missing | E | 新版代码表缺少所用科目 | 先用 juesuan codes import 把本轮的代码表导入新版规格，再迁移 | 原工作簿用到的科目新版代码表没有，原工作簿也没有显示其名称。
migrate-outdated-source | I | 原工作簿按旧版模板填报 | 无需处理 | 迁移为现行规格的新模板。
# 情况说明与公开
narrative-amount-mismatch | E | 说明中的金额与表不符 | 按表中的数改正说明 | 情况说明。
narrative-count-mismatch | E | 说明中的数量与表不符 | 按表中的数量（车辆、设备等）改正说明 | 情况说明；数量（辆、台（套））对照规格所命名的数字。
narrative-percent-mismatch | E | 说明中的百分比与表不符 | 按表中的数改正说明 | 情况说明。
narrative-percent-doubtful | W | 说明中的百分比可能不符 | 核对百分比的口径 | 情况说明。
narrative-rounding | I | 说明中的数有尾数差异 | 无需处理 | 差额在尾数误差内。
narrative-unmatched | I | 说明中的数未能对应到表 | 核对该数的出处 | 情况说明。
narrative-unverifiable | I | 无法核对 | 核对该数的出处 | 情况说明。
narrative-malformed-number | E | 说明中的数写法不规范 | 改为规范写法（如 1,234.56） | 情况说明。
narrative-score-mismatch | W | 说明中的得分与自评表不符 | 按附件改正 | 整体支出绩效自评报告。
narrative-grade-mismatch | W | 说明中的等级与自评表不符 | 按附件改正 | 整体支出绩效自评报告。
narrative-rate-mismatch | W | 说明中的执行率与自评表不符 | 按附件改正 | 整体支出绩效自评报告。
narrative-fujian-amount-mismatch | W | 说明中的金额与附件不符 | 按附件改正 | 整体支出绩效自评报告。
narrative-project-not-evaluated | I | 项目没有自评表 | 补附件3，或改正项目名称 | 情况说明五（三）列出的项目。
narrative-project-not-listed | I | 自评项目未在说明中列出 | 在情况说明五（三）中列出该项目 | 附件3 的项目。
publish-draft | E | 草稿不得公开 | 各单位审核通过后重新发布 | 汇总中含未经审核通过的报表（--include-unapproved）；确需输出时加 --force，每页标明“草稿”。
published-table-missing | E | 公开文件缺少表 | 补上该表后重新公开 | 核对已公开的 PDF。
published-row-missing | E | 公开文件缺少行 | 补上该行后重新公开 | 核对已公开的 PDF。
published-figure-mismatch | E | 公开的数与报送不符 | 按报送数改正公开文件 | 核对已公开的 PDF。
published-row-extra | W | 公开文件多出行 | 核对这一行的来源 | 核对已公开的 PDF。
published-text-missing | W | 公开文件缺少情况说明 | 补上第三部分后重新公开 | 核对已公开的 PDF。
published-font-metrics | I | PDF 字体缺少度量信息 | 无需处理 | 常见于浏览器或部分软件打印的 PDF；文字已按字形对应的标准汉字读取。
publish-consolidation-incomplete | E | 汇总不完整 | 催报、改正后重新汇总，或核实后用 --force 照样发布 | 有单位未报送或报送有错误，汇总的不是全部门的数。
# 审核（退回）
review-returned | E | 退回意见 | 按退回意见改正后重新报送 | 上级审核时退回，写明了原因和单元格。
"""


def _parse(table: str) -> dict[str, Code]:
    out: dict[str, Code] = {}
    group = ""
    for line in table.strip().splitlines():
        if line.startswith("#"):
            group = line.lstrip("# ").strip()
            continue
        code, sev, title, advice, doc = (x.strip() for x in line.split(" | "))
        if code in out:
            raise ValueError(f"finding code {code} catalogued twice")
        out[code] = Code(code, _SEV[sev], title, advice, doc, group)
    return out


CATALOGUE: dict[str, Code] = _parse(_TABLE)


def entry(code: str) -> Code | None:
    return CATALOGUE.get(code)


def title(code: str) -> str:
    """The Chinese title of a code (the code itself for one the catalogue does not know)."""
    e = CATALOGUE.get(code)
    return e.title if e else code


def advice(code: str) -> str:
    e = CATALOGUE.get(code)
    return e.advice if e else "按说明改正后重新报送"


def check(f: Any) -> str | None:
    """Why a finding does not agree with the catalogue (no entry, another severity), or None."""
    e = CATALOGUE.get(f.code)
    if e is None:
        return f"finding code {f.code!r} has no entry in generator/core/codes.py"
    if e.severity != f.severity:
        return f"finding code {f.code!r} is {e.severity} in the catalogue, made as {f.severity}"
    return None


def markdown() -> str:
    """``docs/findings.md``: every code by group, with its severity, title, advice and when it happens."""
    lines = ["# 问题代码一览（finding codes）", "",
             "Generated from `generator/core/codes.py` by `juesuan findings --markdown`; "
             "`tests/test_catalogue.py` keeps it current. Each code has one severity: 错误 (强制) stops a "
             "report from counting, 提示 asks for a look, 信息 needs nothing.", ""]
    group = None
    for e in CATALOGUE.values():
        if e.group != group:
            group = e.group
            lines += ["", f"## {group}", "", "| 代码 | 级别 | 标题 | 怎么改 | 说明 |", "| --- | --- | --- | --- | --- |"]
        cells = (f"`{e.code}`", _SEVERITY_ZH[e.severity], e.title, e.advice, e.doc)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["CATALOGUE", "Code", "advice", "check", "entry", "markdown", "title"]
