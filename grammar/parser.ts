// The tcespec grammar (LANGUAGE.md, core v1 plus the extensions marked below).
// One CstParser, built once per process and reused. It does not recover from errors: a file that
// does not parse whole is read again statement by statement (src/compile/recover.ts), which is
// linear in the input and gives one error per mistake.
import { CstParser } from "./chevrotain.js";
import * as T from "./tokens.js";
import { errorMessages } from "./messages.js";

export class SpecParser extends CstParser {
  constructor() {
    super(T.allTokens, {
      errorMessageProvider: errorMessages,
      maxLookahead: 3,
      // Offsets only: the AST builder turns them into lines and columns, which is cheaper than
      // the parser tracking them for every node.
      nodeLocationTracking: "onlyOffset",
    });
    this.performSelfAnalysis();
  }

  // A file is a sequence of items and separators (new lines, ';'); that items are separated is
  // checked by the AST builder, which sees offsets (a statement list is "item (sep+ item)*").
  public file = this.RULE("file", () => {
    this.MANY(() => {
      this.OR({
        DEF: [
          { ALT: () => this.CONSUME(T.Newline) },
          { ALT: () => this.CONSUME(T.Semicolon) },
          { ALT: () => this.SUBRULE(this.suiteDecl) },
          { ALT: () => this.SUBRULE(this.setupBlock) },
          { ALT: () => this.SUBRULE(this.specBlock) },
          { ALT: () => this.SUBRULE(this.statement) },
        ],
        ERR_MSG: "a statement",
      });
    });
  });

  public suiteDecl = this.RULE("suiteDecl", () => {
    this.CONSUME(T.Suite);
    this.CONSUME(T.StringLiteral);
  });

  private setupBlock = this.RULE("setupBlock", () => {
    this.CONSUME(T.Setup);
    this.SUBRULE(this.block);
  });

  private specBlock = this.RULE("specBlock", () => {
    this.SUBRULE(this.specHead);
    this.SUBRULE(this.block);
  });

  /** `spec "NAME" [tags …] [profiles …]`: what comes before the block. */
  public specHead = this.RULE("specHead", () => {
    this.CONSUME(T.Spec);
    this.CONSUME(T.StringLiteral);
    this.MANY(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.Tags);
            this.SUBRULE(this.tagList);
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.Profiles);
            this.SUBRULE(this.profileList);
          },
        },
      ]);
    });
  });

  private block = this.RULE("block", () => {
    this.MANY(() => this.CONSUME(T.Newline));
    this.CONSUME(T.LBrace);
    this.MANY2(() => {
      this.OR({
        DEF: [
          { ALT: () => this.CONSUME2(T.Newline) },
          { ALT: () => this.CONSUME(T.Semicolon) },
          { ALT: () => this.SUBRULE(this.statement) },
        ],
        ERR_MSG: "a statement or '}'",
      });
    });
    this.CONSUME(T.RBrace);
  });

  // A tag may be any word, keywords included: `tags kvm, reset, hotplug`.
  private tagList = this.RULE("tagList", () => {
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.tag) });
  });

  private tag = this.RULE("tag", () => {
    this.OR({ DEF: [T.Name, T.DottedName, ...T.keywords].map((tokenType) => ({ ALT: () => this.CONSUME(tokenType) })), ERR_MSG: "a tag" });
  });

  private profileList = this.RULE("profileList", () => {
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.word) });
  });

  private word = this.RULE("word", () => {
    this.OR({ DEF: [{ ALT: () => this.CONSUME(T.Name) }, { ALT: () => this.CONSUME(T.DottedName) }], ERR_MSG: "a name" });
  });

  public statement = this.RULE("statement", () => {
    this.OR({
      DEF: [
        { ALT: () => this.SUBRULE(this.machineStmt) },
        { ALT: () => this.SUBRULE(this.phbStmt) },
        { ALT: () => this.SUBRULE(this.plugStmt) },
        { ALT: () => this.SUBRULE(this.unplugStmt) },
        { ALT: () => this.SUBRULE(this.expectStmt) },
        { ALT: () => this.SUBRULE(this.action) },
      ],
      ERR_MSG: "a statement",
    });
  });

  private machineStmt = this.RULE("machineStmt", () => {
    this.CONSUME(T.Machine);
    this.OR({
      DEF: [
        {
          ALT: () => {
            this.CONSUME(T.Kvm);
            this.OPTION(() => {
              this.CONSUME(T.Caps);
              this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.capability) });
            });
          },
        },
        { ALT: () => this.CONSUME(T.Tcg) },
      ],
      ERR_MSG: "'kvm' or 'tcg' after 'machine'",
    });
    this.OPTION2(() => {
      this.CONSUME(T.Ram);
      this.SUBRULE(this.number, { LABEL: "ram" });
    });
  });

  private capability = this.RULE("capability", () => {
    this.CONSUME(T.Name);
  });

  private phbStmt = this.RULE("phbStmt", () => {
    this.CONSUME(T.Phb);
    this.CONSUME(T.Name);
    this.CONSUME(T.Index);
    this.SUBRULE(this.number);
    this.MANY(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.Dma32);
            this.SUBRULE2(this.number, { LABEL: "dma32" });
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.Page);
            this.SUBRULE3(this.number, { LABEL: "page" });
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.Ddw);
            this.OR2({
              DEF: [{ ALT: () => this.CONSUME(T.On) }, { ALT: () => this.CONSUME(T.Off) }],
              ERR_MSG: "'on' or 'off' after 'ddw'",
            });
          },
        },
      ]);
    });
  });

  private plugStmt = this.RULE("plugStmt", () => {
    this.CONSUME(T.Plug);
    this.OR({
      DEF: [{ ALT: () => this.CONSUME(T.Vfio) }, { ALT: () => this.CONSUME(T.Emulated) }],
      ERR_MSG: "'vfio' or 'emulated' after 'plug'",
    });
    this.OPTION(() => this.CONSUME(T.Name));
    this.CONSUME(T.On);
    this.CONSUME2(T.Name, { LABEL: "phb" });
  });

  private unplugStmt = this.RULE("unplugStmt", () => {
    this.CONSUME(T.Unplug);
    this.CONSUME(T.Name);
  });

  // Every action a spec may run bare or put under `expect … == RC`. Each alternative is a rule of
  // its own, so the CST types (grammar/cst.ts) name it and the AST builder must handle it.
  private action = this.RULE("action", () => {
    this.OR({
      DEF: [
        { ALT: () => this.SUBRULE(this.putTce) },
        { ALT: () => this.SUBRULE(this.getTce) },
        { ALT: () => this.SUBRULE(this.stuffTce) },
        { ALT: () => this.SUBRULE(this.putTceIndirect) },
        { ALT: () => this.SUBRULE(this.createWindow) },
        { ALT: () => this.SUBRULE(this.removeWindow) },
        { ALT: () => this.SUBRULE(this.resetWindows) },
        { ALT: () => this.SUBRULE(this.queryWindow) },
        { ALT: () => this.SUBRULE(this.dma) },
        { ALT: () => this.SUBRULE(this.resetAction) },
        { ALT: () => this.SUBRULE(this.migrateAction) },
      ],
      ERR_MSG: "an action",
    });
  });

  private putTce = this.RULE("putTce", () => {
    this.CONSUME(T.PutTce);
    this.SUBRULE(this.tableRef);
    this.SUBRULE(this.ioba);
    this.SUBRULE(this.tce);
  });

  private getTce = this.RULE("getTce", () => {
    this.CONSUME(T.GetTce);
    this.SUBRULE(this.tableRef);
    this.SUBRULE(this.ioba);
  });

  private stuffTce = this.RULE("stuffTce", () => {
    this.CONSUME(T.StuffTce);
    this.SUBRULE(this.tableRef);
    this.SUBRULE(this.ioba);
    this.SUBRULE(this.tce);
    this.SUBRULE(this.count);
  });

  private putTceIndirect = this.RULE("putTceIndirect", () => {
    this.CONSUME(T.PutTceIndirect);
    this.SUBRULE(this.tableRef);
    this.SUBRULE(this.ioba);
    this.SUBRULE(this.tceList);
    this.OPTION(() => {
      this.CONSUME(T.At);
      this.SUBRULE(this.number, { LABEL: "listAddress" });
    });
  });

  private createWindow = this.RULE("createWindow", () => {
    this.CONSUME(T.CreateWindow);
    this.CONSUME(T.Name);
    this.CONSUME(T.Page);
    this.SUBRULE(this.number, { LABEL: "pageSize" });
    this.CONSUME(T.Size);
    this.SUBRULE2(this.number, { LABEL: "windowSize" });
  });

  private removeWindow = this.RULE("removeWindow", () => {
    this.CONSUME(T.RemoveWindow);
    this.SUBRULE(this.tableRef);
  });

  private resetWindows = this.RULE("resetWindows", () => {
    this.CONSUME(T.ResetWindows);
    this.CONSUME(T.Name);
  });

  private queryWindow = this.RULE("queryWindow", () => {
    this.CONSUME(T.QueryWindow);
    this.CONSUME(T.Name);
  });

  private dma = this.RULE("dma", () => {
    this.CONSUME(T.Dma);
    this.CONSUME(T.Name);
    this.OR({
      DEF: [{ ALT: () => this.CONSUME(T.Read) }, { ALT: () => this.CONSUME(T.Write) }],
      ERR_MSG: "'read' or 'write' after the device",
    });
    this.SUBRULE(this.ioba);
  });

  private resetAction = this.RULE("resetAction", () => {
    this.CONSUME(T.Reset);
  });

  private migrateAction = this.RULE("migrateAction", () => {
    this.CONSUME(T.Migrate);
  });

  // What an expectation checks: each alternative a rule of its own, as for actions.
  private expectStmt = this.RULE("expectStmt", () => {
    this.CONSUME(T.Expect);
    this.OR({
      DEF: [
        { ALT: () => this.SUBRULE(this.tableCheck) },
        { ALT: () => this.SUBRULE(this.guestCheck) },
        { ALT: () => this.SUBRULE(this.hwCheck) },
        { ALT: () => this.SUBRULE(this.vfioCheck) },
        { ALT: () => this.SUBRULE(this.windowsCheck) },
        { ALT: () => this.SUBRULE(this.notifiersCheck) },
        // `host ok` / `host crashed`: words, not keywords, so no spec's names change meaning.
        { GATE: () => this.LA(1).image === "host", ALT: () => this.SUBRULE(this.hostCheck) },
        { ALT: () => this.SUBRULE(this.actionCheck) },
      ],
      ERR_MSG: "something to expect (an action, table(…), guest(…), hw(…), vfio(…), windows(…), notifiers(…), host ok)",
    });
    this.MANY(() => {
      this.OR5([
        { ALT: () => this.SUBRULE(this.whenClause) },
        { ALT: () => this.SUBRULE(this.xfailClause) },
      ]);
    });
  });

  private whenClause = this.RULE("whenClause", () => {
    this.CONSUME(T.When);
    this.OR({
      DEF: [
        {
          ALT: () => {
            this.CONSUME(T.Profile);
            this.SUBRULE(this.profileList);
          },
        },
        // `when kernel linux-6-checked`: the host kernel's rules; a word, not a keyword.
        {
          GATE: () => this.LA(1).image === "kernel",
          ALT: () => {
            this.CONSUME(T.Name, { LABEL: "kernel" });
            this.SUBRULE2(this.profileList, { LABEL: "kernelList" });
          },
        },
        // `when host powernv`: the host whose KVM and IOMMU ran the machine; a word too.
        {
          GATE: () => this.LA(1).image === "host",
          ALT: () => {
            this.CONSUME2(T.Name, { LABEL: "host" });
            this.SUBRULE3(this.profileList, { LABEL: "hostList" });
          },
        },
      ],
      ERR_MSG: "'profile', 'kernel' or 'host' after when",
    });
  });

  private xfailClause = this.RULE("xfailClause", () => {
    this.CONSUME(T.Xfail);
    this.CONSUME(T.StringLiteral);
  });

  private tableCheck = this.RULE("tableCheck", () => {
    this.CONSUME(T.Table);
    this.SUBRULE(this.tableArg);
    this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.Kvm) },
        { ALT: () => this.CONSUME(T.Userspace) },
        { ALT: () => this.CONSUME(T.Absent) },
        {
          ALT: () => {
            this.CONSUME(T.Size);
            this.SUBRULE(this.number, { LABEL: "windowSize" });
            this.CONSUME(T.Page);
            this.SUBRULE2(this.number, { LABEL: "pageSize" });
            this.OPTION(() => {
              this.CONSUME(T.Offset);
              this.SUBRULE3(this.number, { LABEL: "offset" });
            });
          },
        },
      ],
      ERR_MSG: "'kvm', 'userspace', 'absent' or 'size' after table(…)",
    });
  });

  private guestCheck = this.RULE("guestCheck", () => {
    this.CONSUME(T.Guest);
    this.SUBRULE(this.entryArg);
    this.SUBRULE(this.comparison);
  });

  private hwCheck = this.RULE("hwCheck", () => {
    this.CONSUME(T.Hw);
    this.CONSUME(T.LParen);
    this.SUBRULE(this.tableRef);
    this.OPTION(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE(this.ioba);
    });
    this.CONSUME(T.RParen);
    this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.InSync) },
        { ALT: () => this.CONSUME(T.Absent) },
        // `out_of_sync`: an extension, a word (not a keyword), as the explorer writes it.
        { GATE: () => this.LA(1).image === "out_of_sync", ALT: () => this.CONSUME(T.Name, { LABEL: "outOfSync" }) },
        { ALT: () => this.SUBRULE(this.comparison) },
      ],
      ERR_MSG: "'in_sync', 'out_of_sync', 'absent', '==' or '!=' after hw(…)",
    });
  });

  private vfioCheck = this.RULE("vfioCheck", () => {
    this.CONSUME(T.Vfio);
    this.SUBRULE(this.phbArg);
    this.OR({
      DEF: [{ ALT: () => this.CONSUME(T.Yes) }, { ALT: () => this.CONSUME(T.No) }],
      ERR_MSG: "'yes' or 'no' after vfio(…)",
    });
  });

  private windowsCheck = this.RULE("windowsCheck", () => {
    this.CONSUME(T.Windows);
    this.SUBRULE(this.phbArg);
    this.SUBRULE(this.comparison);
  });

  private notifiersCheck = this.RULE("notifiersCheck", () => {
    this.CONSUME(T.Notifiers);
    this.SUBRULE(this.tableArg);
    this.SUBRULE(this.comparison);
  });

  private hostCheck = this.RULE("hostCheck", () => {
    this.CONSUME(T.Name, { LABEL: "host" });
    this.OR({
      DEF: [{ ALT: () => this.CONSUME(T.Ok) }, { ALT: () => this.CONSUME2(T.Name, { LABEL: "state" }) }],
      ERR_MSG: "'ok', 'warned' or 'crashed' after host",
    });
    // `at exit`: the host after the machine's QEMU has gone (an extension; `exit` is a word, not a keyword).
    this.OPTION(() => {
      this.CONSUME(T.At);
      this.CONSUME3(T.Name, { LABEL: "exit" });
    });
  });

  private actionCheck = this.RULE("actionCheck", () => {
    this.SUBRULE(this.action);
    this.SUBRULE(this.comparison);
  });

  private tableArg = this.RULE("tableArg", () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.tableRef);
    this.CONSUME(T.RParen);
  });

  private phbArg = this.RULE("phbArg", () => {
    this.CONSUME(T.LParen);
    this.CONSUME(T.Name);
    this.CONSUME(T.RParen);
  });

  private entryArg = this.RULE("entryArg", () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.tableRef);
    this.CONSUME(T.Comma);
    this.SUBRULE(this.ioba);
    this.CONSUME(T.RParen);
  });

  private comparison = this.RULE("comparison", () => {
    this.OR({ DEF: [{ ALT: () => this.CONSUME(T.Equals) }, { ALT: () => this.CONSUME(T.NotEquals) }], ERR_MSG: "'==' or '!='" });
    this.SUBRULE(this.value);
  });

  private value = this.RULE("value", () => {
    this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.ReturnCode) },
        { ALT: () => this.SUBRULE(this.tce) },
        { ALT: () => this.CONSUME(T.Fault) },
        { ALT: () => this.CONSUME(T.Ok) },
        { ALT: () => this.CONSUME(T.Blocked) },
      ],
      ERR_MSG: "a value (a return code, a number or TCE, 'fault', 'ok' or 'blocked')",
    });
  });

  private tableRef = this.RULE("tableRef", () => {
    this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.NumberLiteral) },
        {
          ALT: () => {
            this.CONSUME(T.Name);
            this.OPTION(() => {
              this.CONSUME(T.LBracket);
              this.CONSUME2(T.NumberLiteral, { LABEL: "window" });
              this.CONSUME(T.RBracket);
            });
          },
        },
      ],
      ERR_MSG: "a table (a LIOBN, a PHB name or PHB[N])",
    });
  });

  private tceList = this.RULE("tceList", () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.tce) });
    this.CONSUME(T.RBracket);
  });

  private ioba = this.RULE("ioba", () => {
    this.CONSUME(T.NumberLiteral);
  });
  private count = this.RULE("count", () => {
    this.CONSUME(T.NumberLiteral);
  });
  private number = this.RULE("number", () => {
    this.CONSUME(T.NumberLiteral);
  });

  private tce = this.RULE("tce", () => {
    this.CONSUME(T.NumberLiteral);
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Rw) },
        { ALT: () => this.CONSUME(T.R) },
        { ALT: () => this.CONSUME(T.W) },
        { ALT: () => this.CONSUME(T.None) },
      ]);
    });
  });
}

export const specParser = new SpecParser();
