export async function snapshotCommand(_p: string, _opts: { config: string; tables?: string }): Promise<number> {
  process.stderr.write('snapshot: not implemented yet\n');
  return 1;
}
