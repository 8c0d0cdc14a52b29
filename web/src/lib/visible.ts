/**
 * A Svelte action that calls `seen` once the element first comes near the screen: views
 * below the fold ask the (single) inspection worker for their lenses only when they are
 * about to be read, so that the activations at the top come first.
 */
export function onVisible(node: Element, seen: () => void): { destroy: () => void } {
  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        observer.disconnect();
        seen();
      }
    },
    { rootMargin: "200px" },
  );
  observer.observe(node);
  return { destroy: () => observer.disconnect() };
}
