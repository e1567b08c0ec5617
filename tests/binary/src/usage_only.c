/* Decoy: "password" and "login" appear only in the usage text; nothing compares against a secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fputs("usage: setpw [-u user] [-p password]\n"
          "  set the login password of a user; the password is read from stdin if -p is missing\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    int i;
    const char *user = "admin";
    for (i = 1; i < argc; i++) {
        if (argv[i][0] != '-' || strcmp(argv[i], "--help") == 0)
            usage();
        if (argv[i][1] == 'u' && i + 1 < argc)
            user = argv[++i];
    }
    printf("would set the password of %s (%zu)\n", user, strlen(user));
    return 0;
}
