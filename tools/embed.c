/*
 * embed.c - build tool: turns the files of web/ into a C table
 * (path, content type, bytes) compiled into the otklik binary.
 * Usage: embed OUT.c FILE...
 */
#include <stdio.h>
#include <string.h>

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (strcmp(dot, ".png") == 0)
        return "image/png";
    if (strcmp(dot, ".json") == 0)
        return "application/json";
    if (strcmp(dot, ".ico") == 0)
        return "image/x-icon";
    return "application/octet-stream";
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: embed OUT.c FILE...\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (out == NULL) {
        perror(argv[1]);
        return 1;
    }
    fprintf(out, "/* Generated from web/ by tools/embed.c; do not edit. */\n");
    fprintf(out, "#include \"http/assets.h\"\n\n");
    for (int i = 2; i < argc; i++) {
        FILE *in = fopen(argv[i], "rb");
        if (in == NULL) {
            perror(argv[i]);
            return 1;
        }
        fprintf(out, "static const unsigned char asset_%d[] = {", i);
        int c;
        long n = 0;
        while ((c = fgetc(in)) != EOF) {
            fprintf(out, "%s%d,", n % 24 == 0 ? "\n" : "", c);
            n++;
        }
        fprintf(out, "0};\n");
        fclose(in);
    }
    fprintf(out, "\nconst struct asset assets[] = {\n");
    for (int i = 2; i < argc; i++) {
        const char *path = argv[i];
        if (strncmp(path, "web/", 4) == 0)
            path += 3; /* keep the leading slash: "/index.html" */
        long size = 0;
        FILE *in = fopen(argv[i], "rb");
        fseek(in, 0, SEEK_END);
        size = ftell(in);
        fclose(in);
        fprintf(out, "    {\"%s\", \"%s\", asset_%d, %ld},\n", path, content_type(path), i, size);
    }
    fprintf(out, "    {0, 0, 0, 0},\n};\n");
    return fclose(out) == 0 ? 0 : 1;
}
