// Errors about tokenizer input or files. `userFacing` makes the CLIs (runMain) print
// just the message, without a stack trace.
export class TokenizerError extends Error {
  override name = "TokenizerError";
  userFacing = true;
}
