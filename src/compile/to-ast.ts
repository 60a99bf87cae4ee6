// CST → typed AST. Numbers become bigints here (sizes expanded, `_` removed, > 2^64-1 rejected).
import type { CstElement, CstNode, IToken } from "chevrotain";
import type * as A from "./ast.js";
import { diagnostic, type Diagnostic } from "./diagnostics.js";
import { describeToken } from "../../grammar/messages.js";
import { PROFILES, CAPABILITIES } from "./ast.js";
import { all, isToken, onlyChild, maybeSub, maybeTok, mergeByOffset, positionAt, startToken, sub, tok } from "./cst.js";
import { unknown } from "./suggest.js";
import { parseNumber, PERMISSION_BITS } from "./literals.js";

const PROFILE_SET = new Set<string>(PROFILES);
const CAPABILITY_SET = new Set<string>(CAPABILITIES);

/**
 * Builds the AST of a file from the CSTs of its chunks, one after the other, so a big file's
 * tokens and CST never live all at once. Positions come from offsets and the file's line table.
 */
export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  /** Where the chunk being read starts in the file. */
  private chunkStart = 0;
  private readonly ast: A.SpecFile;
  private readonly loose: A.Statement[] = [];
  private setupSeen = false;
  private suiteSeen = false;

  constructor(
    private readonly path: string,
    private readonly lineStarts: number[],
  ) {
    this.ast = { path, setup: [], specs: [] };
  }

  private posOf(token: IToken): A.Pos {
    return positionAt(this.lineStarts, this.chunkStart + token.startOffset);
  }

  /** Where a node starts, from its offset in the chunk and the chunk's line starts. */
  private nodePos(node: CstNode): A.Pos {
    return positionAt(this.lineStarts, this.chunkStart + (node.location?.startOffset ?? 0));
  }

  private error(pos: A.Pos, message: string): void {
    this.diagnostics.push(diagnostic(this.path, pos, message));
  }

  /** Items of a list in source order, checking that statements are separated. */
  private items(node: CstNode, kinds: string[]): CstNode[] {
    // Each kind's list is already in source order: merge them rather than sort.
    let merged: CstElement[] = [];
    for (const kind of [...kinds, "Newline", "Semicolon"]) {
      const list = all(node, kind);
      if (list.length === 0) continue;
      merged = merged.length === 0 ? list : mergeByOffset(merged, list);
    }
    const result: CstNode[] = [];
    let needSeparator = false;
    for (const item of merged) {
      if (isToken(item)) {
        needSeparator = false;
        continue;
      }
      if (needSeparator) {
        const token = startToken(item);
        if (token) this.error(this.posOf(token), `expected ';' or a new line before ${describeToken(token)}`);
      }
      result.push(item);
      needSeparator = true;
    }
    return result;
  }

  /** Adds the items of one chunk, which starts at offset `chunkStart` of the file. */
  add(cst: CstNode, chunkStart: number): void {
    this.chunkStart = chunkStart;
    const file = this.ast;
    for (const item of this.items(cst, ["suiteDecl", "setupBlock", "specBlock", "statement"])) {
      const first = this.nodePos(item);
      switch (item.name) {
        case "suiteDecl":
          if (this.suiteSeen) this.error(first, "a file has one 'suite' name");
          this.suiteSeen = true;
          file.suite = this.string(tok(item, "StringLiteral"));
          break;
        case "setupBlock":
          if (this.setupSeen) this.error(first, "a file has one 'setup' block");
          this.setupSeen = true;
          file.setup.push(...this.block(sub(item, "block")));
          break;
        case "specBlock":
          file.specs.push(this.specBlock(item));
          break;
        default: {
          const statement = this.statement(item);
          if (statement) this.loose.push(statement);
        }
      }
    }
  }

  finish(): A.SpecFile {
    const file = this.ast;
    if (file.specs.length === 0) {
      const name = this.path.replace(/^.*[\\/]/, "").replace(/\.tce$/, "");
      file.specs.push({ name, tags: [], statements: this.loose, line: 1, column: 1 });
    } else if (this.loose.length > 0) {
      this.error(this.loose[0]!, "a statement outside a spec block: put it in 'setup { … }' or in a spec");
    }
    return file;
  }

  file(cst: CstNode): A.SpecFile {
    this.add(cst, 0);
    return this.finish();
  }

  private string(token: IToken): string {
    return token.image.slice(1, -1).replace(/\\(["\\])/g, "$1");
  }

  private block(node: CstNode): A.Statement[] {
    const statements: A.Statement[] = [];
    for (const item of this.items(node, ["statement"])) {
      const statement = this.statement(item);
      if (statement) statements.push(statement);
    }
    return statements;
  }

  private specBlock(node: CstNode): A.SpecBlock {
    const head = sub(node, "specHead");
    const keyword = tok(head, "Kw_spec");
    const spec: A.SpecBlock = { name: this.string(tok(head, "StringLiteral")), tags: [], statements: [], ...this.posOf(keyword) };
    for (const list of all(head, "tagList") as CstNode[]) {
      for (const tag of all(list, "tag") as CstNode[]) spec.tags.push(startToken(tag)!.image);
    }
    const profileLists = all(head, "profileList") as CstNode[];
    if (profileLists.length > 0) {
      const words = profileLists.flatMap((list) => this.words(list));
      spec.profiles = { names: this.profiles(words), ...this.posOf(words[0]!) };
    }
    spec.statements = this.block(sub(node, "block"));
    return spec;
  }

  private words(list: CstNode): IToken[] {
    return (all(list, "word") as CstNode[]).map((w) => maybeTok(w, "Name") ?? tok(w, "DottedName"));
  }

  private profiles(words: IToken[]): A.ProfileName[] {
    const names: A.ProfileName[] = [];
    for (const word of words) {
      if ((PROFILE_SET as Set<string>).has(word.image)) names.push(word.image as A.ProfileName);
      else this.error(this.posOf(word), unknown("profile", word.image, PROFILES, "profiles"));
    }
    return names;
  }

  private number(token: IToken): A.NumberNode {
    const parsed = parseNumber(token.image);
    if (typeof parsed === "string") {
      this.error(this.posOf(token), parsed);
      return { value: 0n, text: token.image, ...this.posOf(token) };
    }
    return { value: parsed, text: token.image, ...this.posOf(token) };
  }

  private numberRule(node: CstNode): A.NumberNode {
    return this.number(tok(node, "NumberLiteral"));
  }

  private tce(node: CstNode): A.TceNode {
    const number = this.numberRule(node);
    const permission = (["Kw_rw", "Kw_r", "Kw_w", "Kw_none"] as const).map((k) => maybeTok(node, k)).find(Boolean);
    if (!permission) return number;
    const bits = PERMISSION_BITS[permission.image as A.Permission];
    return { value: number.value | bits, text: `${number.text} ${permission.image}`, line: number.line, column: number.column };
  }

  private tableRef(node: CstNode): A.TableRef {
    const liobn = maybeTok(node, "NumberLiteral");
    if (liobn) {
      const n = this.number(liobn);
      return { kind: "liobn", liobn: n.value, text: liobn.image, ...this.posOf(liobn) };
    }
    const name = tok(node, "Name");
    const windowToken = maybeTok(node, "window");
    let window = 0;
    if (windowToken) {
      const n = this.number(windowToken).value;
      if (n > 1n) this.error(this.posOf(windowToken), `a PHB has DMA windows 0 and 1, not ${windowToken.image}`);
      window = Number(n > 1n ? 0n : n);
    }
    return {
      kind: "phb",
      phb: name.image,
      window,
      text: windowToken ? `${name.image}[${windowToken.image}]` : name.image,
      ...this.posOf(name),
    };
  }

  private statement(wrapper: CstNode): A.Statement | undefined {
    const node = onlyChild(wrapper);
    if (!node) return undefined;
    const first = this.nodePos(node);
    switch (node.name) {
      case "machineStmt": {
        if (maybeTok(node, "Kw_tcg")) return { kind: "machine", accel: "tcg", caps: [], ...first };
        const capNodes = all(node, "capability") as CstNode[];
        const caps: A.Capability[] = capNodes.length === 0 ? ["spapr_tce", "multi_tce"] : [];
        for (const capNode of capNodes) {
          const token = tok(capNode, "Name");
          if ((CAPABILITY_SET as Set<string>).has(token.image)) caps.push(token.image as A.Capability);
          else this.error(this.posOf(token), unknown("capability", token.image, CAPABILITIES, "capabilities"));
        }
        return { kind: "machine", accel: "kvm", caps, ...first };
      }
      case "phbStmt": {
        const ddwOff = maybeTok(node, "Kw_off") !== undefined;
        const dma32 = maybeSub(node, "dma32");
        const page = maybeSub(node, "page");
        return {
          kind: "phb",
          name: tok(node, "Name").image,
          index: this.numberRule(sub(node, "number")),
          dma32: dma32 && this.numberRule(dma32),
          page: page && this.numberRule(page),
          ddw: !ddwOff,
          ...first,
        };
      }
      case "plugStmt": {
        const phb = tok(node, "phb");
        return {
          kind: "plug",
          device: maybeTok(node, "Kw_vfio") ? "vfio" : "emulated",
          name: maybeTok(node, "Name")?.image,
          phb: phb.image,
          phbPos: this.posOf(phb),
          ...first,
        };
      }
      case "unplugStmt":
        return { kind: "unplug", name: tok(node, "Name").image, ...first };
      case "action":
        return { kind: "action", action: this.action(node), ...first };
      case "expectStmt":
        return this.expectation(node, first);
      default:
        throw new Error(`internal: unknown statement ${node.name}`);
    }
  }

  private action(node: CstNode): A.Action {
    const first = this.nodePos(node);
    const table = () => this.tableRef(sub(node, "tableRef"));
    const ioba = () => this.numberRule(sub(node, "ioba"));
    const name = (): [string, A.Pos] => {
      const token = tok(node, "Name");
      return [token.image, this.posOf(token)];
    };
    if (maybeTok(node, "Kw_put_tce")) return { kind: "put_tce", table: table(), ioba: ioba(), tce: this.tce(sub(node, "tce")), ...first };
    if (maybeTok(node, "Kw_get_tce")) return { kind: "get_tce", table: table(), ioba: ioba(), ...first };
    if (maybeTok(node, "Kw_stuff_tce")) {
      return {
        kind: "stuff_tce",
        table: table(),
        ioba: ioba(),
        tce: this.tce(sub(node, "tce")),
        count: this.numberRule(sub(node, "count")),
        ...first,
      };
    }
    if (maybeTok(node, "Kw_put_tce_indirect")) {
      const list = sub(node, "tceList");
      const address = maybeSub(node, "listAddress");
      return {
        kind: "put_tce_indirect",
        table: table(),
        ioba: ioba(),
        tces: (all(list, "tce") as CstNode[]).map((t) => this.tce(t)),
        listAddress: address && this.numberRule(address),
        ...first,
      };
    }
    if (maybeTok(node, "Kw_create_window")) {
      const [phb, phbPos] = name();
      return {
        kind: "create_window",
        phb,
        phbPos,
        pageSize: this.numberRule(sub(node, "pageSize")),
        windowSize: this.numberRule(sub(node, "windowSize")),
        ...first,
      };
    }
    if (maybeTok(node, "Kw_remove_window")) return { kind: "remove_window", table: table(), ...first };
    if (maybeTok(node, "Kw_reset_windows")) {
      const [phb, phbPos] = name();
      return { kind: "reset_windows", phb, phbPos, ...first };
    }
    if (maybeTok(node, "Kw_query_window")) {
      const [phb, phbPos] = name();
      return { kind: "query_window", phb, phbPos, ...first };
    }
    if (maybeTok(node, "Kw_dma")) {
      const [device, devicePos] = name();
      return { kind: "dma", device, devicePos, access: maybeTok(node, "Kw_read") ? "read" : "write", ioba: ioba(), ...first };
    }
    if (maybeTok(node, "Kw_reset")) return { kind: "reset", ...first };
    return { kind: "migrate", ...first };
  }

  private comparison(node: CstNode): { op: A.Comparison; value: A.ExpectedValue } {
    const op: A.Comparison = maybeTok(node, "Equals") ? "==" : "!=";
    const valueNode = sub(node, "value");
    const code = maybeTok(valueNode, "ReturnCode");
    if (code) return { op, value: { kind: "code", code: code.image, ...this.posOf(code) } };
    const tceNode = maybeSub(valueNode, "tce");
    if (tceNode) {
      const tce = this.tce(tceNode);
      return {
        op,
        value: {
          kind: "number",
          value: tce.value,
          text: tce.text,
          hasPermission: tce.text.includes(" "),
          line: tce.line,
          column: tce.column,
        },
      };
    }
    for (const word of ["fault", "ok", "blocked"] as const) {
      const token = maybeTok(valueNode, `Kw_${word}`);
      if (token) return { op, value: { kind: "word", word, ...this.posOf(token) } };
    }
    throw new Error("internal: empty value");
  }

  private expectation(node: CstNode, first: A.Pos): A.Expectation {
    const expectation: A.Expectation = { kind: "expect", check: this.check(node), ...first };
    const whens = all(node, "Kw_when") as IToken[];
    const lists = all(node, "profileList") as CstNode[];
    if (whens.length > 1) this.error(this.posOf(whens[1]!), "an expectation takes one 'when profile' clause");
    if (lists.length > 0) expectation.when = { profiles: this.profiles(this.words(lists[0]!)), ...this.posOf(whens[0]!) };
    const xfails = all(node, "Kw_xfail") as IToken[];
    if (xfails.length > 1) this.error(this.posOf(xfails[1]!), "an expectation takes one 'xfail' clause");
    if (xfails.length > 0) expectation.xfail = { reason: this.string(tok(node, "StringLiteral")), ...this.posOf(xfails[0]!) };
    return expectation;
  }

  private check(node: CstNode): A.Check {
    if (maybeTok(node, "Kw_table")) {
      const table = this.tableRef(sub(sub(node, "tableArg"), "tableRef"));
      for (const placement of ["kvm", "userspace", "absent"] as const) {
        if (maybeTok(node, `Kw_${placement}`)) return { kind: "placement", table, placement };
      }
      const offset = maybeSub(node, "offset");
      return {
        kind: "geometry",
        table,
        windowSize: this.numberRule(sub(node, "windowSize")),
        pageSize: this.numberRule(sub(node, "pageSize")),
        offset: offset && this.numberRule(offset),
      };
    }
    if (maybeTok(node, "Kw_guest")) {
      const entry = sub(node, "entryArg");
      return {
        kind: "guest",
        table: this.tableRef(sub(entry, "tableRef")),
        ioba: this.numberRule(sub(entry, "ioba")),
        ...this.comparison(sub(node, "comparison")),
      };
    }
    if (maybeTok(node, "Kw_hw")) {
      const table = this.tableRef(sub(node, "tableRef"));
      const iobaNode = maybeSub(node, "ioba");
      const state = maybeTok(node, "Kw_in_sync") ? "in_sync" : maybeTok(node, "Kw_absent") ? "absent" : undefined;
      if (iobaNode) {
        if (state) this.error(this.nodePos(iobaNode), `hw(T, IOBA) takes '==' or '!=', not '${state}'`);
        else return { kind: "hw-entry", table, ioba: this.numberRule(iobaNode), ...this.comparison(sub(node, "comparison")) };
      }
      if (!state) {
        this.error(table, "hw(T) takes 'in_sync' or 'absent'; compare an entry with hw(T, IOBA) == VALUE");
        return { kind: "hw-state", table, state: "in_sync" };
      }
      return { kind: "hw-state", table, state };
    }
    if (maybeTok(node, "Kw_vfio")) {
      const phb = tok(sub(node, "phbArg"), "Name");
      return { kind: "vfio", phb: phb.image, phbPos: this.posOf(phb), present: maybeTok(node, "Kw_yes") !== undefined };
    }
    if (maybeTok(node, "Kw_windows")) {
      const phb = tok(sub(node, "phbArg"), "Name");
      return { kind: "windows", phb: phb.image, phbPos: this.posOf(phb), ...this.comparison(sub(node, "comparison")) };
    }
    if (maybeTok(node, "Kw_notifiers")) {
      return {
        kind: "notifiers",
        table: this.tableRef(sub(sub(node, "tableArg"), "tableRef")),
        ...this.comparison(sub(node, "comparison")),
      };
    }
    return { kind: "action", action: this.action(sub(node, "action")), ...this.comparison(sub(node, "comparison")) };
  }
}
