/**
 * Focus a field when it mounts. A stable function: an inline arrow is a new ref on every render,
 * which Preact calls again each time, pulling focus back from whatever field is being typed in.
 */
export function focusOnMount(el: HTMLElement | null): void {
  el?.focus();
}
