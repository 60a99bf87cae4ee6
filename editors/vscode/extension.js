// The VS Code client: starts `tcespec lsp --stdio` (the command is a setting) for .tce files.
const { workspace } = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate() {
  const [command, ...args] = workspace.getConfiguration("tcespec").get("command");
  client = new LanguageClient(
    "tcespec",
    "tcespec",
    { run: { command, args, transport: TransportKind.stdio, options: { shell: process.platform === "win32" } }, debug: { command, args } },
    { documentSelector: [{ language: "tcespec" }] },
  );
  return client.start();
}

function deactivate() {
  return client && client.stop();
}

module.exports = { activate, deactivate };
