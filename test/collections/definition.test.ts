import { describe, expect, it } from "vitest";
import {
  definitionFromCreate,
  definitionFromUpdate,
  type FieldDefinition,
  tightenedOption,
} from "../../src/collections/definition.js";
import { ValidationFailed } from "../../src/collections/errors.js";

const none = () => undefined;
const base = (changes: Partial<FieldDefinition>): FieldDefinition => ({
  id: "f1",
  name: "f",
  type: "text",
  required: false,
  hidden: false,
  unique: false,
  ...changes,
});

describe("definitions", () => {
  it("settles defaults and skips system fields sent back", () => {
    const { definition, change } = definitionFromCreate(
      {
        name: "users",
        type: "auth",
        fields: [
          { name: "id", type: "text" },
          { name: "email", type: "email" },
          { name: "created", type: "autodate" },
          { name: "tags", type: "select", values: ["a", "a", "b"] },
          { name: "when", type: "autodate" },
          { name: "data", type: "json" },
        ],
      },
      { collectionId: "pbc_1", now: "2024-01-01 00:00:00.000Z" },
      none,
    );
    expect(definition.fields.map((f) => f.name)).toEqual(["tags", "when", "data"]);
    expect(definition.fields[0]).toMatchObject({ values: ["a", "b"], maxSelect: 1 });
    expect(definition.fields[1]).toMatchObject({ onCreate: true, onUpdate: false });
    expect(definition.fields[2]!.maxSize).toBe(1024 * 1024);
    expect(definition.rules).toEqual({
      listRule: null,
      viewRule: null,
      createRule: null,
      updateRule: null,
      deleteRule: null,
    });
    expect(change.kind).toBe("create");
  });

  it("resolves relations by name, including to itself", () => {
    const { definition } = definitionFromCreate(
      {
        name: "nodes",
        fields: [
          { name: "parent", type: "relation", collectionId: "nodes" },
          { name: "owner", type: "relation", collectionId: "users", maxSelect: 3 },
        ],
      },
      { collectionId: "pbc_2", now: "x" },
      (idOrName) => (idOrName === "users" ? { id: "pbc_9" } : undefined),
    );
    expect(definition.fields.map((f) => f.collectionId)).toEqual(["pbc_2", "pbc_9"]);
  });

  it("knows which option changes loosen and which tighten", () => {
    const cases: Array<[Partial<FieldDefinition>, Partial<FieldDefinition>, string | undefined]> = [
      [{ required: true }, { required: false }, undefined],
      [{}, { required: true }, "required"],
      [{ unique: true }, { unique: false }, undefined],
      [{}, { unique: true }, "unique"],
      [{ min: 3 }, { min: 1 }, undefined],
      [{ min: 1 }, { min: 3 }, "min"],
      [{ max: 10 }, { max: 20 }, undefined],
      [{ max: 10 }, {}, undefined],
      [{}, { max: 100 }, "max"],
      [{ pattern: "^a" }, {}, undefined],
      [{ pattern: "^a" }, { pattern: "^b" }, "pattern"],
      [{}, { type: "number" }, "type"],
      [{ type: "number", min: 0 }, { type: "number" }, undefined],
      [{ type: "number" }, { type: "number", max: 5 }, "max"],
      [{ type: "number" }, { type: "number", onlyInt: true }, "onlyInt"],
      [{ type: "select", values: ["a"] }, { type: "select", values: ["a", "b"] }, undefined],
      [{ type: "select", values: ["a", "b"] }, { type: "select", values: ["a"] }, "values"],
      [
        { type: "select", values: ["a"], maxSelect: 2 },
        { type: "select", values: ["a"], maxSelect: 1 },
        "maxSelect",
      ],
      [
        { type: "relation", collectionId: "x" },
        { type: "relation", collectionId: "y" },
        "collectionId",
      ],
      [{ type: "json", maxSize: 10 }, { type: "json", maxSize: 5 }, "maxSize"],
      [
        { type: "email", onlyDomains: ["a.io"] },
        { type: "email", onlyDomains: ["a.io", "b.io"] },
        undefined,
      ],
      [{ type: "email" }, { type: "email", onlyDomains: ["a.io"] }, "onlyDomains"],
      [{ type: "date", max: "2024" }, { type: "date", max: "2023" }, "max"],
      [
        { type: "autodate", onCreate: true },
        { type: "autodate", onCreate: true, onUpdate: true },
        "onUpdate",
      ],
    ];
    for (const [before, after, expected] of cases) {
      expect(tightenedOption(base(before), base(after)), JSON.stringify([before, after])).toBe(
        expected,
      );
    }
  });

  it("applies a PATCH by name: adds, loosens, keeps the rest, and orders the changes", () => {
    const { definition: current } = definitionFromCreate(
      {
        name: "posts",
        fields: [
          { name: "a", type: "text", required: true },
          { name: "b", type: "number" },
        ],
      },
      { collectionId: "pbc_3", now: "t0" },
      none,
    );
    const { definition, changes } = definitionFromUpdate(
      current,
      {
        fields: [
          { name: "c", type: "bool" },
          { name: "a", type: "text" },
        ],
        listRule: "",
      },
      "t1",
      none,
    );
    expect(definition.fields.map((f) => f.name)).toEqual(["a", "b", "c"]);
    expect(definition.fields[0]!.id).toBe(current.fields[0]!.id);
    expect(definition.rules.listRule).toBe("");
    expect(definition.updated).toBe("t1");
    expect(changes.map((c) => c.kind)).toEqual(["add_field", "alter_field"]);
    const unchanged = definitionFromUpdate(
      current,
      { fields: [{ name: "b", type: "number" }] },
      "t2",
      none,
    );
    expect(unchanged.changes).toEqual([]);
    expect(unchanged.definition.updated).toBe("t0");
    const renamed = (() => {
      try {
        definitionFromUpdate(
          current,
          { fields: [{ id: current.fields[0]!.id, name: "z", type: "text" }] },
          "t",
          none,
        );
      } catch (error) {
        return error;
      }
    })();
    expect(renamed).toBeInstanceOf(ValidationFailed);
  });
});
