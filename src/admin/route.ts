// The typed definition of one admin API route (after Logto's koaGuard). A route names its zod
// schemas (the services' own input schemas, and a response schema from responses.ts) and its
// handler's arguments are inferred from them, so a handler reads `params.id` or passes `body` to
// a service with no cast. defineRoute erases the types into an AdminRoute: the router, the
// OpenAPI document and the tests read the table without knowing each route's schemas.
import { z } from 'zod';
import type { Actor } from '../audit/index.ts';
import { identifier, parseInput } from '../oauth/index.ts';
import type { Services } from '../services.ts';

export type Access = 'read' | 'write';
export type Method = 'get' | 'post' | 'patch' | 'delete';
type Part = z.ZodObject | undefined;

/** What a handler receives for a part of the request: its schema's output, or nothing without one. */
type Parsed<Schema extends Part> = Schema extends z.ZodObject ? z.output<Schema> : Record<string, never>;
/**
 * What a handler must return: what the response schema accepts. The schema's input, not its
 * output, because the answer is serialised as the service returned it.
 */
type Answer<Schema extends z.ZodType | undefined> = Schema extends z.ZodType ? z.input<Schema> : void;

/** The request as the router hands it over: unparsed parts, and who is asking. */
export interface RawRequest {
  params: unknown;
  query: unknown;
  body: unknown;
  actor: Actor;
}

interface Description {
  method: Method;
  /** OpenAPI path template, e.g. /admin/clients/{id}. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  status?: 200 | 201 | 204;
}

export interface RouteDefinition<
  Params extends Part,
  Query extends Part,
  Body extends Part,
  Response extends z.ZodType | undefined,
> extends Description {
  params?: Params;
  query?: Query;
  body?: Body;
  /** What a success answers (documented; checked against real answers by a test). */
  response?: Response;
  /** A request body the documentation shows; a test checks it validates. */
  example?: Body extends z.ZodObject ? z.input<Body> : never;
  handler(
    request: { params: Parsed<Params>; query: Parsed<Query>; body: Parsed<Body>; actor: Actor },
    services: Services,
  ): Promise<Answer<Response>>;
}

/** A route with its types erased: what the router, the OpenAPI document and the tests read. */
export interface AdminRoute extends Description {
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodObject;
  response?: z.ZodType;
  example?: Record<string, unknown>;
  /** Parses the request with the route's schemas (a 400 naming the field) and runs its handler. */
  run(request: RawRequest, services: Services): Promise<unknown>;
}

/**
 * Parses one part of a request. A part without a schema is not read (as before this table was
 * typed: a stray query string on a route that takes none is ignored).
 */
function parsePart<Schema extends Part>(schema: Schema | undefined, value: unknown): Parsed<Schema> {
  // The one assertion of the route tables: TypeScript does not narrow a type parameter by testing a
  // value, so it cannot see that the branch taken here is the one Parsed<Schema> names.
  return (schema ? parseInput(schema, value) : {}) as Parsed<Schema>;
}

export function defineRoute<
  Params extends Part = undefined,
  Query extends Part = undefined,
  Body extends Part = undefined,
  Response extends z.ZodType | undefined = undefined,
>(definition: RouteDefinition<Params, Query, Body, Response>): AdminRoute {
  const { handler, params, query, body, response, example, ...description } = definition;
  return {
    ...description,
    ...(params ? { params } : {}),
    ...(query ? { query } : {}),
    ...(body ? { body } : {}),
    ...(response ? { response } : {}),
    ...(example ? { example } : {}),
    run: (request, services) =>
      handler(
        {
          params: parsePart<Params>(params, request.params),
          query: parsePart<Query>(query, request.query),
          body: parsePart<Body>(body, request.body),
          actor: request.actor,
        },
        services,
      ),
  };
}

/** The path parameter of every route about one thing: /admin/clients/{id} and the like. */
export const byId = z.object({ id: identifier });
