import { createRequire as __swrmCreateRequire } from 'node:module'; const require = __swrmCreateRequire(import.meta.url);
import{a}from"./chunk-LBBLWXFG.mjs";import"./chunk-EFKXDYFT.mjs";export default a();
