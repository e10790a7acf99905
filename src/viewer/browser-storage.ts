/** The browser's localStorage for view choices (layers per class, the panel's layout), or null where the browser refuses it (some private modes): the choices then last for the page. */
export function browserStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
