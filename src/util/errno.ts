/** Whether a Node.js system error carries this errno code (ENOENT, EACCES, …). */
export const isErrno = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | null)?.code === code;
