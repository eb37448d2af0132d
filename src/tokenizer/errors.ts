// Errors about tokenizer input or files.
import { UserError } from "../util/errors.ts";

export class TokenizerError extends UserError {
  override name = "TokenizerError";
}
