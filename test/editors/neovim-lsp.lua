-- Drives Neovim's own LSP client against `tcespec lsp --stdio` (test/editors/neovim.test.ts): opens
-- a spec, waits for the diagnostics the server publishes, writes them to a file and quits.
local out = vim.env.TCESPEC_NVIM_OUT
local cmd = vim.split(vim.env.TCESPEC_LSP_CMD, " ")
vim.cmd("edit " .. vim.env.TCESPEC_NVIM_FILE)
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({ name = "tcespec", cmd = cmd, root_dir = vim.fn.getcwd() })
vim.lsp.buf_attach_client(buf, id)
local ok = vim.wait(20000, function() return #vim.diagnostic.get(buf) >= tonumber(vim.env.TCESPEC_NVIM_WANT) end, 100)
local lines = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(lines, string.format("%d:%d: %s", d.lnum + 1, d.col + 1, d.message))
end
table.sort(lines)
vim.fn.writefile(lines, out)
vim.lsp.stop_client(id)
vim.cmd("qall!")
