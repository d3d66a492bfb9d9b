// One line of status or error text; errors use role=alert so they are announced at once.
export function Notice(props: { kind: 'error' | 'info' | 'banner'; text: string | undefined; onClose?: () => void }) {
  if (props.text === undefined) return null;
  return (
    <div class={`notice notice-${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      <span>{props.text}</span>
      {props.onClose !== undefined && (
        <button type="button" class="link" onClick={props.onClose} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}
