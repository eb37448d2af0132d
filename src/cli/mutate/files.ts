// The repository's files under some top-level folders, as repo-relative paths.
export async function walk(root: string, folders: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string) => {
    for await (const e of Deno.readDir(`${root}/${rel}`)) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory) await visit(path);
      else if (e.isFile) out.push(path);
    }
  };
  for (const f of folders) await visit(f).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  return out.sort();
}
