/**
 * zod, configured for a command that runs for a second: every schema module imports `z`
 * from here, so that the configuration is in place before any schema is built.
 *
 * jitless: by default zod compiles a parser for each object schema with `new Function` the
 * first time it parses one. That pays off over thousands of parses in a server; a snapshot
 * parses a handful of engine answers, and the compiling cost more than the parsing (about
 * 10 ms for three containers' inspect documents, measured with a CPU profile). Interpreted
 * parsing gives the same results.
 */
import { z } from "zod";

z.config({ jitless: true });

export { z };
