// What the kernel-test page leaves on window for the Playwright runner.
export interface PageResult {
  family: string;
  name: string;
  relErr: number | null;
  bound: number | null;
  error: string | null;
  ms: number;
}
