#!/usr/bin/env node
// The `zoogate` command: runs the TypeScript entry point through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../api/main.ts');
