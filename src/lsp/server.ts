// `tcespec lsp --stdio`: the language server. Diagnostics as `check` gives them, on open and on
// every change; completion from the grammar; hover; formatting through `fmt`; go to definition of
// a PHB or device name. Everything it knows comes from assist.ts; this file is the JSON-RPC side.
import { fileURLToPath } from "node:url";
import {
  CompletionItemKind,
  createConnection,
  DiagnosticSeverity,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { completions, definition, hover, offsetAt, problems, type CompletionKind } from "./assist.js";
import { format } from "../format/format.js";
import { VERSION } from "../version.js";

const KINDS: Record<CompletionKind, CompletionItemKind> = {
  keyword: CompletionItemKind.Keyword,
  phb: CompletionItemKind.Variable,
  device: CompletionItemKind.Variable,
  profile: CompletionItemKind.EnumMember,
  capability: CompletionItemKind.EnumMember,
  code: CompletionItemKind.Constant,
};

/** A readable path for diagnostics: the file's path for file: URIs, the URI otherwise. */
function pathOf(uri: string): string {
  try {
    return uri.startsWith("file:") ? fileURLToPath(uri) : uri;
  } catch {
    return uri;
  }
}

export function startServer(connection: Connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout)): Connection {
  const documents = new TextDocuments(TextDocument);

  connection.onInitialize(() => ({
    serverInfo: { name: "tcespec", version: VERSION },
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: [" ", "(", ","] },
      hoverProvider: true,
      documentFormattingProvider: true,
      definitionProvider: true,
    },
  }));

  const publish = (document: TextDocument) => {
    const diagnostics = problems(pathOf(document.uri), document.getText()).map((p) => ({
      range: p.range,
      message: p.message,
      severity: DiagnosticSeverity.Error,
      source: "tcespec",
    }));
    void connection.sendDiagnostics({ uri: document.uri, diagnostics });
  };
  // Fired on open and on every change: one set of diagnostics per version of the text.
  documents.onDidChangeContent((e) => publish(e.document));
  documents.onDidClose((e) => void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] }));

  connection.onCompletion(({ textDocument, position }) => {
    const document = documents.get(textDocument.uri);
    if (!document) return [];
    const text = document.getText();
    return completions(text, offsetAt(text, position.line, position.character)).map((c) => ({
      label: c.label,
      kind: KINDS[c.kind],
      ...(c.detail ? { detail: c.detail } : {}),
    }));
  });

  connection.onHover(({ textDocument, position }) => {
    const document = documents.get(textDocument.uri);
    if (!document) return null;
    const text = document.getText();
    const value = hover(text, offsetAt(text, position.line, position.character));
    return value ? { contents: { kind: "markdown", value } } : null;
  });

  connection.onDocumentFormatting(({ textDocument }) => {
    const document = documents.get(textDocument.uri);
    if (!document) return [];
    const text = document.getText();
    const formatted = format(text);
    // A file that does not parse is left alone, as `tcespec fmt` leaves it.
    if (formatted === undefined || formatted === text) return [];
    return [{ range: { start: { line: 0, character: 0 }, end: document.positionAt(text.length) }, newText: formatted }];
  });

  connection.onDefinition(({ textDocument, position }) => {
    const document = documents.get(textDocument.uri);
    if (!document) return null;
    const text = document.getText();
    const found = definition(text, offsetAt(text, position.line, position.character));
    return found ? { uri: textDocument.uri, range: { start: document.positionAt(found.start), end: document.positionAt(found.end) } } : null;
  });

  documents.listen(connection);
  connection.listen();
  return connection;
}
