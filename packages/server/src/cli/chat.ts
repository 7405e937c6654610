/** `parley chat`: a small terminal client built on the SDK. */
export async function chat(_argv: string[]): Promise<void> {
  throw new Error('parley chat is being built');
}
