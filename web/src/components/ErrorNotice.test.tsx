import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, Code } from '../api/errors';
import { ErrorNotice } from './ErrorNotice';

afterEach(() => vi.useRealTimers());

describe('ErrorNotice', () => {
  it('counts down a rate limit and enables the retry when it is over', () => {
    vi.useFakeTimers();
    const onRetry = vi.fn();
    render(<ErrorNotice error={new ApiError(Code.RESOURCE_EXHAUSTED, 'rate limited', undefined, {}, [], 2)} onRetry={onRetry} />);
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('Too many requests');
    expect(screen.getByTestId('retry-countdown').textContent).toBe('Try again in 2 seconds.');
    expect((screen.getByRole('button', { name: 'Try again' }) as HTMLButtonElement).disabled).toBe(true);
    act(() => vi.advanceTimersByTime(2100));
    expect(screen.getByTestId('retry-countdown').textContent).toBe('You can try again now.');
    expect((screen.getByRole('button', { name: 'Try again' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('lists field violations of invalid input', () => {
    render(<ErrorNotice error={new ApiError(Code.INVALID_ARGUMENT, 'bad', 'INVALID_ARGUMENT', {}, [{ field: 'capacity', description: 'must be at most 2000' }])} />);
    expect(screen.getByRole('alert').textContent).toContain('capacity: must be at most 2000');
  });

  it('gives the reason sentence with the server detail and retries on request', async () => {
    const onRetry = vi.fn();
    render(<ErrorNotice error={new ApiError(Code.FAILED_PRECONDITION, 'You already hold section 002 of CS 101.', 'DUPLICATE_COURSE')} onRetry={onRetry} context="Swap refused" />);
    const text = screen.getByRole('alert').textContent!;
    expect(text).toContain('Swap refused: You already hold another section of this course.');
    expect(text).toContain('Details: You already hold section 002 of CS 101.');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(onRetry).toHaveBeenCalledOnce();
  });

  it('renders nothing without an error', () => {
    const { container } = render(<ErrorNotice error={undefined} />);
    expect(container.textContent).toBe('');
  });
});
