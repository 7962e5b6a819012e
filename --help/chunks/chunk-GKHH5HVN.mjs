import { createRequire as __swrmCreateRequire } from 'node:module'; const require = __swrmCreateRequire(import.meta.url);
import{d as s,e as i,f as a,g as t,w as c,x as f}from"./chunk-QATV2FKE.mjs";import{a as n}from"./chunk-EFKXDYFT.mjs";var r={OK:0,FAILED:1,USAGE:2,INTERRUPTED:130,TERMINATED:143};function u(e){return e instanceof i||e instanceof a||e instanceof t?r.USAGE:r.FAILED}n(u,"exitCodeFor");function p(e,g){let o=u(e);return e instanceof s?o===r.USAGE?process.stderr.write(`swr-migrate: ${e.message}
`):process.stderr.write(`swr-migrate: ${e.message} [${c(e)}]
`):(g?.debug({err:e},"unexpected error"),process.stderr.write(`swr-migrate: ${f(e)} (unexpected; rerun with --log-level debug for details)
`)),o===r.USAGE&&!(e instanceof t)&&!/--help'/.test(e instanceof Error?e.message:"")&&process.stderr.write(`Run 'swr-migrate --help' for usage.
`),o}n(p,"reportError");export{r as a,p as b};
