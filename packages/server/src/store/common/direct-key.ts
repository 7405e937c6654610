/** The unique key of the direct conversation of two users, whoever asks. */
export const directKey = (a: string, b: string): string => (a < b ? `${a}:${b}` : `${b}:${a}`);
