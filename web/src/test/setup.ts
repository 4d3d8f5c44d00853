import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// Role queries walk the accessibility tree, slow in jsdom when many test files run at once.
configure({ asyncUtilTimeout: 4000 });

afterEach(() => cleanup());
