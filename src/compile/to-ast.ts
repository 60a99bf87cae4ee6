// CST → typed AST: the one job of this stage. The CST is read through its generated types
// (grammar/cst.ts), and every choice of the grammar (a statement, an action, an expectation) through
// a handler table that must name each alternative: a rule the grammar gains and this file does not
// handle is a compile error. Numbers become bigints here (sizes expanded, `_` removed, > 2^64-1
// rejected); names are checked where the grammar cannot: profiles and capabilities.
import { HOST_NAMES, isHostName, isKernelRules, KERNEL_RULES_NAMES } from "../profile-names.js";
import type { CstElement, CstNode, IToken } from "chevrotain";
import type * as C from "../../grammar/cst.js";
import type * as A from "./ast.js";
import { diagnostic, type Diagnostic } from "./diagnostics.js";
import { describeToken } from "../../grammar/messages.js";
import { PROFILES, CAPABILITIES, DEFAULT_CAPABILITIES } from "./ast.js";
import { isToken, mergeByOffset, positionAt, startToken } from "./positions.js";
import { LBrace, Newline, RBrace, Semicolon } from "../../grammar/tokens.js";

const SEPARATORS = new Set([Newline, Semicolon, LBrace, RBrace]);
import { unknown } from "./suggest.js";
import { unreachable } from "../unreachable.js";
import { parseNumber, PERMISSION_BITS } from "./literals.js";

const PROFILE_SET = new Set<string>(PROFILES);
const CAPABILITY_SET = new Set<string>(CAPABILITIES);

/** One handler per alternative of a choice: the keys are the rule's children that are alternatives. */
type Handlers<Children, Keys extends keyof Children, R> = {
  [K in Keys]-?: (node: NonNullable<Children[K]> extends (infer N)[] ? N : never) => R;
};

/** Calls the handler of the alternative the parser took (a node holds only the children it has). */
function choose<Children extends object, Keys extends keyof Children, R>(
  children: Children,
  handlers: Handlers<Children, Keys, R>,
): R {
  for (const key in children) {
    if (!Object.hasOwn(handlers, key)) continue;
    const taken = (children as Record<string, CstNode[] | undefined>)[key]?.[0];
    if (taken) return (handlers[key as unknown as Keys] as (node: CstNode) => R)(taken);
  }
  throw new Error(`internal: none of ${Object.keys(handlers).join(", ")} in the CST`);
}

/** The one token of an optional child the grammar guarantees is there when it is asked for. */
function the<T>(list: T[] | undefined): T {
  const first = list?.[0];
  if (first === undefined) throw new Error("internal: a child the grammar requires is missing");
  return first;
}

type CheckKey = Exclude<keyof C.ExpectStmtCstChildren, "Kw_expect" | "whenClause" | "xfailClause">;

/**
 * Builds the AST of a file from the CSTs of its chunks, one after the other, so a big file's
 * tokens and CST never live all at once. Positions come from offsets and the file's line table.
 */
export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  /** Where the chunk being read starts in the file, and its tokens. */
  private chunkStart = 0;
  private tokens: IToken[] = [];
  /** Where in `tokens` the last statement's text ended: statements come in order. */
  private cursor = 0;
  private readonly ast: A.SpecFile;
  private readonly loose: A.Statement[] = [];
  private setupSeen = false;
  private suiteSeen = false;

  constructor(
    private readonly path: string,
    private readonly source: string,
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

  /**
   * A statement's position and its text, from offsets: it runs from its first token to the last
   * one before a separator (a new line, ';' or a brace; comments are not tokens), found from where
   * the previous statement's search stopped, so the chunk's tokens are walked once in all.
   */
  private where(node: CstNode): A.StatementBase {
    const first = node.location?.startOffset ?? 0;
    const tokens = this.tokens;
    let k = this.cursor;
    while (k < tokens.length && tokens[k]!.startOffset < first) k++;
    while (k + 1 < tokens.length && !SEPARATORS.has(tokens[k + 1]!.tokenType)) k++;
    this.cursor = k;
    const last = tokens[k];
    const start = this.chunkStart + first;
    const end = this.chunkStart + (last ? last.startOffset + last.image.length : first);
    const { line, column } = positionAt(this.lineStarts, start);
    return { line, column, source: this.source.slice(start, end) };
  }

  private error(pos: A.Pos, message: string): void {
    this.diagnostics.push(diagnostic(this.path, pos, message));
  }

  /** Items of a list in source order, checking that statements are separated. */
  private items(lists: (CstElement[] | undefined)[]): CstNode[] {
    // Each kind's list is already in source order: merge them rather than sort.
    let merged: CstElement[] = [];
    for (const list of lists) {
      if (!list || list.length === 0) continue;
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

  /** Adds the items of one chunk, which starts at offset `chunkStart` of the file, with its tokens. */
  add(cst: CstNode, chunkStart: number, tokens: IToken[]): void {
    this.chunkStart = chunkStart;
    this.tokens = tokens;
    this.cursor = 0;
    const file = this.ast;
    const c = (cst as C.FileCstNode).children;
    const items = this.items([c.suiteDecl, c.setupBlock, c.specBlock, c.statement, c.Newline, c.Semicolon]);
    for (const item of items as (C.SuiteDeclCstNode | C.SetupBlockCstNode | C.SpecBlockCstNode | C.StatementCstNode)[]) {
      const first = this.nodePos(item);
      switch (item.name) {
        case "suiteDecl":
          if (this.suiteSeen) this.error(first, "a file has one 'suite' name");
          this.suiteSeen = true;
          file.suite = this.string(the(item.children.StringLiteral));
          break;
        case "setupBlock":
          if (this.setupSeen) this.error(first, "a file has one 'setup' block");
          this.setupSeen = true;
          file.setup.push(...this.block(the(item.children.block)));
          break;
        case "specBlock":
          file.specs.push(this.specBlock(item));
          break;
        case "statement":
          this.loose.push(this.statement(item));
          break;
        default:
          return unreachable(item);
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

  private string(token: IToken): string {
    return token.image.slice(1, -1).replace(/\\(["\\])/g, "$1");
  }

  private block(node: C.BlockCstNode): A.Statement[] {
    const c = node.children;
    return (this.items([c.statement, c.Newline, c.Semicolon]) as C.StatementCstNode[]).map((item) => this.statement(item));
  }

  private specBlock(node: C.SpecBlockCstNode): A.SpecBlock {
    const head = the(node.children.specHead).children;
    const spec: A.SpecBlock = { name: this.string(the(head.StringLiteral)), tags: [], statements: [], ...this.posOf(the(head.Kw_spec)) };
    for (const list of head.tagList ?? []) {
      for (const tag of list.children.tag) spec.tags.push(startToken(tag)!.image);
    }
    if (head.profileList) {
      const words = head.profileList.flatMap((list) => this.words(list));
      spec.profiles = { names: this.profiles(words), ...this.posOf(words[0]!) };
    }
    spec.statements = this.block(the(node.children.block));
    return spec;
  }

  private words(list: C.ProfileListCstNode): IToken[] {
    return list.children.word.map((w) => the(w.children.Name ?? w.children.DottedName));
  }

  private profiles(words: IToken[]): A.ProfileName[] {
    const names: A.ProfileName[] = [];
    for (const word of words) {
      if (PROFILE_SET.has(word.image)) names.push(word.image as A.ProfileName);
      else this.error(this.posOf(word), unknown("profile", word.image, PROFILES, "profiles"));
    }
    return names;
  }

  /** The words of a `when kernel` or `when host` list that name one of `known`; each other one an error. */
  private namesOf<N extends string>(words: IToken[], kind: string, known: readonly N[], is: (word: string) => word is N): N[] {
    const names: N[] = [];
    for (const word of words) {
      if (is(word.image)) names.push(word.image);
      else this.error(this.posOf(word), unknown(kind, word.image, known, `${kind}s`));
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

  /** A `number`, `ioba` or `count` rule: one number literal. */
  private numberRule(node: { children: { NumberLiteral: IToken[] } }): A.NumberNode {
    return this.number(the(node.children.NumberLiteral));
  }
  private optionalNumber(list: C.NumberCstNode[] | undefined): A.NumberNode | undefined {
    return list ? this.numberRule(the(list)) : undefined;
  }

  private tce(node: C.TceCstNode): A.TceNode {
    const c = node.children;
    const number = this.numberRule(node);
    const permission = (c.Kw_rw ?? c.Kw_r ?? c.Kw_w ?? c.Kw_none)?.[0];
    if (!permission) return number;
    const bits = PERMISSION_BITS[permission.image as A.Permission];
    return { value: number.value | bits, text: `${number.text} ${permission.image}`, line: number.line, column: number.column };
  }

  private tableRef(node: C.TableRefCstNode): A.TableRef {
    const c = node.children;
    if (c.NumberLiteral) {
      const token = the(c.NumberLiteral);
      return { kind: "liobn", liobn: this.number(token).value, text: token.image, ...this.posOf(token) };
    }
    const name = the(c.Name);
    const windowToken = c.window?.[0];
    let window = 0;
    if (windowToken) {
      const n = this.number(windowToken).value;
      if (n > 1n) this.error(this.posOf(windowToken), `a PHB has DMA windows 0 and 1, not ${windowToken.image}`);
      window = Number(n > 1n ? 0n : n);
    }
    return { kind: "phb", phb: name.image, window, text: windowToken ? `${name.image}[${windowToken.image}]` : name.image, ...this.posOf(name) };
  }

  private named(token: IToken): [string, A.Pos] {
    return [token.image, this.posOf(token)];
  }

  private statement(wrapper: C.StatementCstNode): A.Statement {
    const at = this.where(wrapper);
    return choose<C.StatementCstChildren, keyof C.StatementCstChildren, A.Statement>(wrapper.children, {
      machineStmt: (node) => {
        const ram = this.optionalNumber(node.children.ram);
        if (node.children.Kw_tcg) return { kind: "machine", accel: "tcg", caps: [], ...(ram ? { ram } : {}), ...at };
        const named = node.children.capability;
        const caps: A.Capability[] = named ? [] : [...DEFAULT_CAPABILITIES];
        for (const capability of named ?? []) {
          const token = the(capability.children.Name);
          if (CAPABILITY_SET.has(token.image)) caps.push(token.image as A.Capability);
          else this.error(this.posOf(token), unknown("capability", token.image, CAPABILITIES, "capabilities"));
        }
        return { kind: "machine", accel: "kvm", caps, ...(ram ? { ram } : {}), ...at };
      },
      phbStmt: (node) => {
        const c = node.children;
        return {
          kind: "phb",
          name: the(c.Name).image,
          index: this.numberRule(the(c.number)),
          dma32: this.optionalNumber(c.dma32),
          page: this.optionalNumber(c.page),
          ddw: !c.Kw_off,
          ...at,
        };
      },
      plugStmt: (node) => {
        const c = node.children;
        const [phb, phbPos] = this.named(the(c.phb));
        return { kind: "plug", device: c.Kw_vfio ? "vfio" : "emulated", name: c.Name?.[0]?.image, phb, phbPos, ...at };
      },
      unplugStmt: (node) => ({ kind: "unplug", name: the(node.children.Name).image, namePos: this.posOf(the(node.children.Name)), ...at }),
      action: (node) => ({ kind: "action", action: this.action(node), ...at }),
      expectStmt: (node) => this.expectation(node, at),
    });
  }

  private action(node: C.ActionCstNode): A.Action {
    const first = this.nodePos(node);
    return choose<C.ActionCstChildren, keyof C.ActionCstChildren, A.Action>(node.children, {
      putTce: ({ children: c }) => ({
        kind: "put_tce",
        table: this.tableRef(the(c.tableRef)),
        ioba: this.numberRule(the(c.ioba)),
        tce: this.tce(the(c.tce)),
        ...first,
      }),
      getTce: ({ children: c }) => ({ kind: "get_tce", table: this.tableRef(the(c.tableRef)), ioba: this.numberRule(the(c.ioba)), ...first }),
      stuffTce: ({ children: c }) => ({
        kind: "stuff_tce",
        table: this.tableRef(the(c.tableRef)),
        ioba: this.numberRule(the(c.ioba)),
        tce: this.tce(the(c.tce)),
        count: this.numberRule(the(c.count)),
        ...first,
      }),
      putTceIndirect: ({ children: c }) => ({
        kind: "put_tce_indirect",
        table: this.tableRef(the(c.tableRef)),
        ioba: this.numberRule(the(c.ioba)),
        tces: (the(c.tceList).children.tce ?? []).map((t) => this.tce(t)),
        listAddress: this.optionalNumber(c.listAddress),
        ...first,
      }),
      createWindow: ({ children: c }) => {
        const [phb, phbPos] = this.named(the(c.Name));
        return {
          kind: "create_window",
          phb,
          phbPos,
          pageSize: this.numberRule(the(c.pageSize)),
          windowSize: this.numberRule(the(c.windowSize)),
          ...first,
        };
      },
      removeWindow: ({ children: c }) => ({ kind: "remove_window", table: this.tableRef(the(c.tableRef)), ...first }),
      resetWindows: ({ children: c }) => {
        const [phb, phbPos] = this.named(the(c.Name));
        return { kind: "reset_windows", phb, phbPos, ...first };
      },
      queryWindow: ({ children: c }) => {
        const [phb, phbPos] = this.named(the(c.Name));
        return { kind: "query_window", phb, phbPos, ...first };
      },
      dma: ({ children: c }) => {
        const [device, devicePos] = this.named(the(c.Name));
        return { kind: "dma", device, devicePos, access: c.Kw_read ? "read" : "write", ioba: this.numberRule(the(c.ioba)), ...first };
      },
      resetAction: () => ({ kind: "reset", ...first }),
      migrateAction: () => ({ kind: "migrate", ...first }),
    });
  }

  private comparison(node: C.ComparisonCstNode): { op: A.Comparison; value: A.ExpectedValue } {
    const op: A.Comparison = node.children.Equals ? "==" : "!=";
    const v = the(node.children.value).children;
    if (v.ReturnCode) {
      const code = the(v.ReturnCode);
      return { op, value: { kind: "code", code: code.image, ...this.posOf(code) } };
    }
    if (v.tce) {
      const tce = this.tce(the(v.tce));
      return {
        op,
        value: { kind: "number", value: tce.value, text: tce.text, hasPermission: tce.text.includes(" "), line: tce.line, column: tce.column },
      };
    }
    const [word, token] = v.Kw_fault ? (["fault", the(v.Kw_fault)] as const) : v.Kw_ok ? (["ok", the(v.Kw_ok)] as const) : (["blocked", the(v.Kw_blocked)] as const);
    return { op, value: { kind: "word", word, ...this.posOf(token) } };
  }

  private expectation(node: C.ExpectStmtCstNode, at: A.StatementBase): A.Expectation {
    const c = node.children;
    const expectation: A.Expectation = { kind: "expect", check: this.check(c), ...at };
    const whens = (c.whenClause ?? []).filter((w) => w.children.profileList);
    if (whens.length > 1) this.error(this.nodePos(whens[1]!), "an expectation takes one 'when profile' clause");
    if (whens[0]) expectation.when = { profiles: this.profiles(this.words(the(whens[0].children.profileList))), ...this.nodePos(whens[0]) };
    const kernels = (c.whenClause ?? []).filter((w) => w.children.kernelList);
    if (kernels.length > 1) this.error(this.nodePos(kernels[1]!), "an expectation takes one 'when kernel' clause");
    if (kernels[0]) expectation.whenKernel = { kernels: this.namesOf(this.words(the(kernels[0].children.kernelList)), "kernel", KERNEL_RULES_NAMES, isKernelRules), ...this.nodePos(kernels[0]) };
    const hosts = (c.whenClause ?? []).filter((w) => w.children.hostList);
    if (hosts.length > 1) this.error(this.nodePos(hosts[1]!), "an expectation takes one 'when host' clause");
    if (hosts[0]) expectation.whenHost = { hosts: this.namesOf(this.words(the(hosts[0].children.hostList)), "host", HOST_NAMES, isHostName), ...this.nodePos(hosts[0]) };
    const xfails = c.xfailClause ?? [];
    if (xfails.length > 1) this.error(this.nodePos(xfails[1]!), "an expectation takes one 'xfail' clause");
    if (xfails[0]) expectation.xfail = { reason: this.string(the(xfails[0].children.StringLiteral)), ...this.nodePos(xfails[0]) };
    return expectation;
  }

  private check(children: C.ExpectStmtCstChildren): A.Check {
    return choose<C.ExpectStmtCstChildren, CheckKey, A.Check>(children, {
      tableCheck: ({ children: c }) => {
        const table = this.tableRef(the(the(c.tableArg).children.tableRef));
        if (c.Kw_kvm) return { kind: "placement", table, placement: "kvm" };
        if (c.Kw_userspace) return { kind: "placement", table, placement: "userspace" };
        if (c.Kw_absent) return { kind: "placement", table, placement: "absent" };
        return {
          kind: "geometry",
          table,
          windowSize: this.numberRule(the(c.windowSize)),
          pageSize: this.numberRule(the(c.pageSize)),
          offset: this.optionalNumber(c.offset),
        };
      },
      guestCheck: ({ children: c }) => {
        const entry = the(c.entryArg).children;
        return {
          kind: "guest",
          table: this.tableRef(the(entry.tableRef)),
          ioba: this.numberRule(the(entry.ioba)),
          ...this.comparison(the(c.comparison)),
        };
      },
      hwCheck: ({ children: c }) => {
        const table = this.tableRef(the(c.tableRef));
        const state = c.Kw_in_sync ? "in_sync" : c.Kw_absent ? "absent" : c.outOfSync ? "out_of_sync" : undefined;
        if (c.ioba) {
          const ioba = the(c.ioba);
          if (state) this.error(this.nodePos(ioba), `hw(T, IOBA) takes '==' or '!=', not '${state}'`);
          else return { kind: "hw-entry", table, ioba: this.numberRule(ioba), ...this.comparison(the(c.comparison)) };
        }
        if (!state) {
          this.error(table, "hw(T) takes 'in_sync', 'out_of_sync' or 'absent'; compare an entry with hw(T, IOBA) == VALUE");
          return { kind: "hw-state", table, state: "in_sync" };
        }
        return { kind: "hw-state", table, state };
      },
      vfioCheck: ({ children: c }) => {
        const [phb, phbPos] = this.named(the(the(c.phbArg).children.Name));
        return { kind: "vfio", phb, phbPos, present: c.Kw_yes !== undefined };
      },
      windowsCheck: ({ children: c }) => {
        const [phb, phbPos] = this.named(the(the(c.phbArg).children.Name));
        return { kind: "windows", phb, phbPos, ...this.comparison(the(c.comparison)) };
      },
      notifiersCheck: ({ children: c }) => ({
        kind: "notifiers",
        table: this.tableRef(the(the(c.tableArg).children.tableRef)),
        ...this.comparison(the(c.comparison)),
      }),
      hostCheck: ({ children: c }) => {
        const state = c.state?.[0];
        const states = ["warned", "crashed"] as const;
        const named = states.find((s) => s === state?.image);
        if (state && !named) this.error(this.posOf(state), `'host' takes 'ok', 'warned' or 'crashed', not '${state.image}'`);
        const exit = c.exit?.[0];
        if (exit && exit.image !== "exit") this.error(this.posOf(exit), `'at' after the host's state takes 'exit', not '${exit.image}'`);
        return { kind: "host", state: named ?? "ok", ...(c.Kw_at ? { atExit: true as const } : {}) };
      },
      actionCheck: ({ children: c }) => ({ kind: "action", action: this.action(the(c.action)), ...this.comparison(the(c.comparison)) }),
    });
  }
}
