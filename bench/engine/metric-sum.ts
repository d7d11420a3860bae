/** Sum of every sample of one Prometheus metric on a /metrics page (0 when absent or unreachable). */
export async function metricSum(url: string, name: string): Promise<number> {
  try {
    const text = await (await fetch(url)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  } catch {
    return 0;
  }
}
