export function TypingIndicator({ typists }: { typists: string[] }) {
  return (
    <div aria-live="polite" className="h-6 truncate px-4 text-sm text-slate-600">
      {typists.length > 0 && (
        <span data-testid="typing-indicator" className="inline-flex items-center gap-1.5">
          <span className="inline-flex gap-0.5" aria-hidden="true">
            <span className="typing-dot h-1.5 w-1.5 rounded-full bg-slate-500" />
            <span className="typing-dot h-1.5 w-1.5 rounded-full bg-slate-500" />
            <span className="typing-dot h-1.5 w-1.5 rounded-full bg-slate-500" />
          </span>
          {typists.join(", ")} {typists.length === 1 ? "is" : "are"} typing
        </span>
      )}
    </div>
  );
}
