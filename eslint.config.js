// ESLint: typescript-eslint with type information, Pulumi's rules against Outputs in template
// literals, and no floating promises.
const tseslint = require("typescript-eslint");
const pulumi = require("@pulumi/eslint-plugin");

module.exports = tseslint.config(
    { ignores: ["node_modules/", "bin/", "coverage/", "demo-app/", ".stryker-tmp/", "**/*.js"] },
    ...tseslint.configs.recommended,
    {
        files: ["**/*.ts"],
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        },
    },
);
