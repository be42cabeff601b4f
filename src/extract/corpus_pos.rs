//! True examples of the extract test corpus, per kind, in realistic surroundings
//! (build logs, .env files, JSON configs, Slack pastes, e-mail lines).
//!
//! Test-only. Tokens are generated at run time (see `corpus.rs` helpers) so this file
//! holds nothing a real secret scanner would flag.

use super::corpus::*;

/// All true examples.
pub(super) fn positives() -> Vec<Pos> {
    let mut r = Rng::new(7);
    let r = &mut r;
    let mut v = Vec::new();

    // aws-access-key-id
    let k = |r: &mut Rng, p: &str| format!("{p}{}", r.s(16, UPNUM));
    let (a, b, c, d) = (k(r, "AKIA"), k(r, "ASIA"), k(r, "AKIA"), k(r, "AKIA"));
    v.push(pos(
        "aws-access-key-id",
        format!("2024-05-01T10:00:03Z [build 4411] + export AWS_ACCESS_KEY_ID={a}\n"),
        &a,
    ));
    v.push(pos("aws-access-key-id", format!("{{\"Credentials\": {{\"AccessKeyId\": \"{b}\", \"Expiration\": \"2024-05-01T12:00:00Z\"}}}}"), &b));
    v.push(pos(
        "aws-access-key-id",
        format!("Hi team, I found {c} pasted in the Confluence runbook, please rotate."),
        &c,
    ));
    v.push(pos(
        "aws-access-key-id",
        format!("Voilà la clé d'accès : «{d}» — merci 🙏"),
        &d,
    ));

    // aws-secret-access-key
    let sk = |r: &mut Rng| format!("{}/{}+{}", r.s(12, ALNUM), r.s(14, ALNUM), r.s(12, ALNUM));
    let (s1, s2, s3, s4) = (sk(r), sk(r), sk(r), sk(r));
    v.push(pos("aws-secret-access-key", format!("[default]\naws_access_key_id = {a}\naws_secret_access_key = {s1}\nregion = eu-west-1\n"), &s1));
    v.push(pos(
        "aws-secret-access-key",
        format!(
            "{{\"AccessKeyId\": \"{b}\", \"SecretAccessKey\": \"{s2}\", \"SessionToken\": \"x\"}}"
        ),
        &s2,
    ));
    v.push(pos(
        "aws-secret-access-key",
        format!("User name,Access key ID,Secret access key\nci-bot,{c},{s3}\n"),
        &s3,
    ));
    v.push(pos(
        "aws-secret-access-key",
        format!("AWS_SECRET_ACCESS_KEY={s4}\nAWS_DEFAULT_REGION=us-east-1\n"),
        &s4,
    ));

    // GitHub family
    let g = |r: &mut Rng, p: &str| format!("{p}_{}", r.s(36, ALNUM));
    for (kind, p) in [
        ("github-pat", "gh".to_string() + "p"),
        ("github-oauth", "gh".to_string() + "o"),
        ("github-app-token", "gh".to_string() + "s"),
        ("github-app-token", "gh".to_string() + "u"),
    ] {
        let (t1, t2, t3) = (g(r, &p), g(r, &p), g(r, &p));
        v.push(pos(
            kind,
            format!("$ git clone https://{t1}@github.com/acme/infra.git\nCloning into 'infra'..."),
            &t1,
        ));
        v.push(pos(
            kind,
            format!("GITHUB_TOKEN={t2}\nNODE_ENV=production\n"),
            &t2,
        ));
        v.push(pos(
            kind,
            format!("[10:42] alice: try this one {t3} it has repo scope"),
            &t3,
        ));
    }
    let t = format!("{}_{}", "gh".to_string() + "r", r.s(36, ALNUM));
    v.push(pos(
        "github-app-token",
        format!("{{\"refresh_token\": \"{t}\"}}"),
        &t,
    ));
    for i in 0..3 {
        let t = format!("github_{}_{}_{}", "pat", r.s(22, ALNUM), r.s(59, ALNUM));
        let text = match i {
            0 => format!("export GH_TOKEN={t}"),
            1 => format!("{{\"github\": {{\"token\": \"{t}\"}}}}"),
            _ => format!("> Sent from my phone\n> token is {t}\n"),
        };
        v.push(pos("github-fine-grained-pat", text, &t));
    }

    // gitlab
    for i in 0..3 {
        let t = format!("glpat-{}", r.s(20, B64URL).replace('-', "x"));
        let text = match i {
            0 => format!("CI_JOB: git push https://oauth2:{t}@gitlab.com/acme/app.git"),
            1 => format!("GITLAB_TOKEN={t}"),
            _ => format!("Subject: leaked token\n\nSomeone committed {t} to the wiki."),
        };
        v.push(pos("gitlab-pat", text, &t));
    }

    // slack tokens and webhooks
    let st = [
        format!(
            "xo{}-{}-{}-{}",
            "xb",
            r.s(12, DIGITS),
            r.s(13, DIGITS),
            r.s(24, ALNUM)
        ),
        format!(
            "xo{}-{}-{}-{}-{}",
            "xp",
            r.s(12, DIGITS),
            r.s(12, DIGITS),
            r.s(13, DIGITS),
            r.s(32, HEX)
        ),
        format!(
            "xa{}-1-A{}-{}-{}",
            "pp",
            r.s(10, UPNUM),
            r.s(13, DIGITS),
            r.s(64, HEX)
        ),
    ];
    v.push(pos(
        "slack-token",
        format!("SLACK_BOT_TOKEN={}\n", st[0]),
        &st[0],
    ));
    v.push(pos(
        "slack-token",
        format!("{{\"slack\": {{\"user_token\": \"{}\"}}}}", st[1]),
        &st[1],
    ));
    v.push(pos(
        "slack-token",
        format!(
            "socket mode app token: {} (from the app config page)",
            st[2]
        ),
        &st[2],
    ));
    for i in 0..3 {
        let w = format!(
            "https://hooks.slack.com/services/T{}/B{}/{}",
            r.s(8, UPNUM),
            r.s(10, UPNUM),
            r.s(24, ALNUM)
        );
        let text = match i {
            0 => format!(
                "curl -X POST -H 'Content-type: application/json' --data '{{\"text\":\"hi\"}}' {w}"
            ),
            1 => format!("alerting:\n  slack_url: \"{w}\"\n"),
            _ => format!("The webhook ({w}) is in the README."),
        };
        v.push(pos("slack-webhook", text, &w));
    }

    // stripe
    for (kind, p) in [("stripe-secret-key", "sk"), ("stripe-restricted-key", "rk")] {
        let t1 = format!("{p}_live_{}", r.s(24, ALNUM));
        let t2 = format!("{p}_test_{}", r.s(99, ALNUM));
        let t3 = format!("{p}_live_{}", r.s(34, ALNUM));
        v.push(pos(kind, format!("STRIPE_API_KEY={t1}"), &t1));
        v.push(pos(kind, format!("stripe.api_key = '{t2}'"), &t2));
        v.push(pos(
            kind,
            format!("Error: Invalid API Key provided: {t3} (request req_abc)"),
            &t3,
        ));
    }

    // twilio, sendgrid, google
    for i in 0..3 {
        let t = format!("S{}{}", "K", r.s(32, HEX));
        let text = match i {
            0 => format!("TWILIO_API_KEY={t}\nTWILIO_API_SECRET=redacted"),
            1 => format!("{{\"twilio\": {{\"api_key_sid\": \"{t}\"}}}}"),
            _ => format!("the twilio key {t} was in the build log"),
        };
        v.push(pos("twilio-api-key", text, &t));
        let t = format!("S{}.{}.{}", "G", r.s(22, B64URL), r.s(43, B64URL));
        let text = match i {
            0 => format!("SENDGRID_API_KEY={t}"),
            1 => format!("{{\"mail\": {{\"sendgrid\": \"{t}\"}}}}"),
            _ => format!("[14:01] bob: here {t}"),
        };
        v.push(pos("sendgrid-api-key", text, &t));
        let t = format!("AI{}{}", "za", r.s(35, B64URL));
        let text = match i {
            0 => format!("<script src=\"https://maps.googleapis.com/maps/api/js?key={t}&callback=init\"></script>"),
            1 => format!("GOOGLE_API_KEY={t}"),
            _ => format!("firebase config: {{ apiKey: \"{t}\", authDomain: \"acme.firebaseapp.com\" }}"),
        };
        v.push(pos("google-api-key", text, &t));
    }

    // openai, anthropic
    let o = [
        format!(
            "s{}-proj-{}T3B{}{}",
            "k",
            r.s(20, B64URL),
            "lbkFJ",
            r.s(120, B64URL)
        ),
        format!(
            "s{}-{}T3B{}{}",
            "k",
            r.s(20, ALNUM),
            "lbkFJ",
            r.s(20, ALNUM)
        ),
        format!("s{}-svcacct-{}", "k", r.s(64, B64URL)),
    ];
    v.push(pos(
        "openai-api-key",
        format!("OPENAI_API_KEY={}", o[0]),
        &o[0],
    ));
    v.push(pos(
        "openai-api-key",
        format!("client = OpenAI(api_key=\"{}\")", o[1]),
        &o[1],
    ));
    v.push(pos(
        "openai-api-key",
        format!(
            "Incorrect API key provided: {}. You can find your API key at …",
            o[2]
        ),
        &o[2],
    ));
    for i in 0..3 {
        let t = format!("s{}-ant-api03-{}AA", "k", r.s(93, B64URL));
        let text = match i {
            0 => format!("ANTHROPIC_API_KEY={t}"),
            1 => format!("curl https://api.anthropic.com/v1/messages -H \"x-api-key: {t}\""),
            _ => format!("{{\"llm\": {{\"provider\": \"anthropic\", \"key\": \"{t}\"}}}}"),
        };
        v.push(pos("anthropic-api-key", text, &t));
    }

    // private keys
    let b1 = pem_body(r, 12);
    let b2 = pem_body(r, 6);
    let b3 = pem_body(r, 20);
    let b4 = pem_body(r, 8);
    let b5 = pem_body(r, 5);
    let join = |b: &[String]| b.concat();
    v.push(pos(
        "private-key",
        format!(
            "Here is the deploy key:\n\n{}\n\nthanks",
            pem("RSA PRIVATE KEY", &b1, "\n")
        ),
        &join(&b1),
    ));
    v.push(pos(
        "private-key",
        format!(
            "{{\"type\": \"service_account\", \"private_key\": \"{}\\n\"}}",
            pem("PRIVATE KEY", &b2, "\\n")
        ),
        &join(&b2),
    ));
    v.push(pos(
        "private-key",
        format!(
            "$ cat ~/.ssh/id_ed25519\n{}\n$ ",
            pem("OPENSSH PRIVATE KEY", &b3, "\n")
        ),
        &join(&b3),
    ));
    let quoted = pem("EC PRIVATE KEY", &b4, "\n")
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    v.push(pos(
        "private-key",
        format!("On Monday, Eve wrote:\n{quoted}\n"),
        &join(&b4),
    ));
    let trunc = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}\n\nrest of the mail",
        b5.join("\n")
    );
    v.push(pos("private-key", trunc, &join(&b5)));

    // jwt
    for i in 0..4 {
        let t = jwt(r);
        let text = match i {
            0 => format!("Cookie: session={t}; Path=/"),
            1 => format!("{{\"id_token\": \"{t}\", \"expires_in\": 3600}}"),
            2 => format!("GET /api/v1/me?access_token={t} HTTP/1.1"),
            _ => format!("curl -H 'Authorization: Bearer {t}' https://api.acme.io/v1/users"),
        };
        v.push(pos("jwt", text, &t));
    }

    // bearer tokens
    let bt = [
        r.s(40, ALNUM),
        r.s(40, HEX),
        format!("{}.{}", r.s(24, B64URL), r.s(30, B64URL)),
        b64std(format!("svc-backup:{}", r.s(18, ALNUM)).as_bytes()),
    ];
    v.push(pos(
        "bearer-token",
        format!(
            "curl -sS -H \"Authorization: Bearer {}\" https://api.internal.acme.io/v2/jobs",
            bt[0]
        ),
        &bt[0],
    ));
    v.push(pos(
        "bearer-token",
        format!(
            "> GET /repos HTTP/1.1\n> Authorization: token {}\n> Accept: */*",
            bt[1]
        ),
        &bt[1],
    ));
    v.push(pos(
        "bearer-token",
        format!(
            "{{\"headers\": {{\"Authorization\": \"Bearer {}\"}}}}",
            bt[2]
        ),
        &bt[2],
    ));
    v.push(pos(
        "bearer-token",
        format!("authorization: Basic {}\r\nhost: nexus.acme.io", bt[3]),
        &bt[3],
    ));

    // url passwords (+ host)
    let pw = [
        r.s(16, PWCHARS).replace(['#', '%', '^'], "q"),
        r.s(24, ALNUM),
        r.s(12, ALNUM),
        r.s(20, ALNUM),
        r.s(9, ALNUM),
    ];
    v.push(pos(
        "url-password",
        format!(
            "DATABASE_URL=postgres://app:{}@db.prod.acme.internal:5432/orders",
            pw[0]
        ),
        &pw[0],
    ));
    v.push(pos(
        "url-password",
        format!(
            "mongodb+srv://admin:{}@cluster0.ab1cd.mongodb.net/test?retryWrites=true",
            pw[1]
        ),
        &pw[1],
    ));
    v.push(pos(
        "url-password",
        format!(
            "{{\"broker\": \"amqp://guest:{}@rabbit.acme.io:5672/\"}}",
            pw[2]
        ),
        &pw[2],
    ));
    v.push(pos(
        "url-password",
        format!(
            "Downloading https://deploy:{}@artifacts.acme.io/repo/app.tgz ...",
            pw[3]
        ),
        &pw[3],
    ));
    v.push(pos(
        "url-password",
        format!("REDIS_URL=redis://:{}@cache-01:6379/0", pw[4]),
        &pw[4],
    ));
    v.push(pos(
        "host",
        format!(
            "DATABASE_URL=postgres://app:{}@db.prod.acme.internal:5432/orders",
            pw[0]
        ),
        "db.prod.acme.internal",
    ));
    v.push(pos(
        "host",
        format!("mysql://root:{}@MySQL-01.acme.io/app", pw[1]),
        "mysql-01.acme.io",
    ));
    v.push(pos(
        "host",
        format!("amqp://guest:{}@rabbit.acme.io:5672/", pw[2]),
        "rabbit.acme.io",
    ));

    // azure storage / service bus / SAS
    let ak = format!("{}==", r.s(86, B64));
    let sak = format!("{}=", r.s(43, B64));
    let sig = format!("{}%3D", r.s(43, ALNUM));
    v.push(pos("azure-storage-key", format!("DefaultEndpointsProtocol=https;AccountName=prodstore;AccountKey={ak};EndpointSuffix=core.windows.net"), &ak));
    v.push(pos("azure-storage-key", format!("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={sak}"), &sak));
    v.push(pos("azure-storage-key", format!("https://prodstore.blob.core.windows.net/backups/db.bak?sv=2021-08-06&se=2024-06-01&sr=b&sp=r&sig={sig}"), &sig));

    // generic secrets
    let gs = [
        r.s(50, PWCHARS),
        r.s(16, PWCHARS),
        r.s(32, ALNUM),
        format!("{}9", r.s(14, PWCHARS)),
        r.s(32, HEX),
        r.s(28, B64URL),
    ];
    v.push(pos(
        "generic-secret",
        format!("DJANGO_SECRET_KEY={}\nDEBUG=False\n", gs[0]),
        &gs[0],
    ));
    v.push(pos(
        "generic-secret",
        format!("database:\n  host: db1\n  password: \"{}\"\n", gs[1]),
        &gs[1],
    ));
    v.push(pos(
        "generic-secret",
        format!(
            "{{\"oauth\": {{\"client_id\": \"acme-web\", \"client_secret\": \"{}\"}}}}",
            gs[2]
        ),
        &gs[2],
    ));
    v.push(pos(
        "generic-secret",
        format!("$config['db_passwd'] => '{}';", gs[3]),
        &gs[3],
    ));
    v.push(pos(
        "generic-secret",
        format!("2024-05-01 12:00:01 INFO starting with API_KEY: {}", gs[4]),
        &gs[4],
    ));
    v.push(pos(
        "generic-secret",
        format!("webhook_token := \"{}\"", gs[5]),
        &gs[5],
    ));
    let (w1, w2) = (format!("Tr0{}&3", r.s(6, ALNUM)), r.s(24, ALNUM));
    v.push(pos("generic-secret", format!("password: {w1}\n"), &w1));
    v.push(pos(
        "generic-secret",
        format!("GET /export?format=csv&access_key={w2}&page=2 HTTP/1.1"),
        &w2,
    ));

    // identities
    let sa = [
        format!(
            "deployer@prod-data-{}.iam.gserviceaccount.com",
            r.s(3, DIGITS)
        ),
        "ci-runner@acme-build.iam.gserviceaccount.com".to_string(),
        format!("{}-compute@developer.gserviceaccount.com", r.s(12, DIGITS)),
    ];
    v.push(pos(
        "gcp-service-account",
        format!(
            "{{\"type\": \"service_account\", \"client_email\": \"{}\"}}",
            sa[0]
        ),
        &sa[0],
    ));
    v.push(pos(
        "gcp-service-account",
        format!("The SA {} has roles/owner on the project.", sa[1]),
        &sa[1],
    ));
    v.push(pos(
        "gcp-service-account",
        format!(
            "gcloud auth activate-service-account {} --key-file=key.json",
            sa[2]
        ),
        &sa[2],
    ));
    let arns = [
        "arn:aws:iam::123456789012:role/ci-deploy".to_string(),
        format!("arn:aws:iam::{}:user/svc-backup", r.s(12, DIGITS)),
        "arn:aws:sts::210987654321:assumed-role/AdminRole/alice@acme.io".to_string(),
        "arn:aws-us-gov:iam::123456789012:role/service-role/lambda-exec".to_string(),
    ];
    v.push(pos(
        "aws-arn",
        format!(
            "User: {} is not authorized to perform: s3:GetObject",
            arns[2]
        ),
        &arns[2],
    ));
    v.push(pos(
        "aws-arn",
        format!("role_arn = {}\nsource_profile = default", arns[0]),
        &arns[0],
    ));
    v.push(pos(
        "aws-arn",
        format!("{{\"Principal\": {{\"AWS\": \"{}\"}}}}", arns[1]),
        &arns[1],
    ));
    v.push(pos("aws-arn", format!("assumed {}.", arns[3]), &arns[3]));
    let gd = [guid(r), guid(r), guid(r), guid(r)];
    v.push(pos(
        "azure-app-id",
        format!("AZURE_CLIENT_ID={}\nAZURE_TENANT_ID={}\n", gd[0], gd[3]),
        &gd[0],
    ));
    v.push(pos(
        "azure-app-id",
        format!(
            "{{\n  \"appId\": \"{}\",\n  \"displayName\": \"ci-sp\",\n  \"tenant\": \"{}\"\n}}",
            gd[1], gd[3]
        ),
        &gd[1],
    ));
    v.push(pos(
        "azure-app-id",
        format!("Application (client) ID: {}", gd[2].to_uppercase()),
        &gd[2],
    ));
    v.push(pos(
        "k8s-service-account",
        "User \"system:serviceaccount:payments:api-runner\" cannot list resource \"secrets\""
            .into(),
        "system:serviceaccount:payments:api-runner",
    ));
    v.push(pos(
        "k8s-service-account",
        "subjects:\n- kind: User\n  name: system:serviceaccount:ci:deployer\n".into(),
        "system:serviceaccount:ci:deployer",
    ));
    v.push(pos(
        "k8s-service-account",
        "token for system:serviceaccount:kube-system:default.".into(),
        "system:serviceaccount:kube-system:default",
    ));

    // context
    v.push(pos(
        "url",
        "See https://grafana.acme.io/d/abc?orgId=1 for details.".into(),
        "https://grafana.acme.io/d/abc?orgId=1",
    ));
    v.push(pos(
        "url",
        "(dashboard: HTTP://Wiki.Acme.com/page)".into(),
        "http://wiki.acme.com/page",
    ));
    v.push(pos(
        "url",
        "server at http://10.0.0.5:8080/admin, login there".into(),
        "http://10.0.0.5:8080/admin",
    ));
    v.push(pos(
        "url",
        "health: http://[fd00::1]:8080/healthz".into(),
        "http://[fd00::1]:8080/healthz",
    ));
    // `pass` as a word of a name
    let (p1, p2, p3) = (r.s(18, ALNUM), r.s(20, PWCHARS), r.s(24, ALNUM));
    v.push(pos(
        "generic-secret",
        format!("DB_HOST=db1\nDB_PASS={p1}\n"),
        &p1,
    ));
    v.push(pos(
        "generic-secret",
        format!("auth: {{ user: 'mailer', pass: '{p2}' }}"),
        &p2,
    ));
    v.push(pos(
        "generic-secret",
        format!("export GPG_PASSPHRASE={p3}"),
        &p3,
    ));
    // package registries, infrastructure and SaaS tokens known by their prefix
    for i in 0..3 {
        let t = format!("{}_{}", "npm", r.s(36, ALNUM));
        let text = match i {
            0 => format!("//registry.npmjs.org/:_authToken={t}"),
            1 => format!("NPM_TOKEN: {t}"),
            _ => format!("[09:12] ci-bot: publish failed with token {t}, retrying"),
        };
        v.push(pos("npm-token", text, &t));
        let t = format!("{}-AgEIcHlwaS5vcmc{}", "pypi", r.s(140, B64URL));
        let text = match i {
            0 => format!("[pypi]\nusername = __token__\npassword = {t}\n"),
            1 => format!("TWINE_PASSWORD={t}"),
            _ => format!("uploaded with {t} from the laptop"),
        };
        v.push(pos("pypi-token", text, &t));
        let t = format!("{}_pat_{}", "dckr", r.s(27, B64URL));
        let text = match i {
            0 => format!("echo {t} | docker login -u deploybot --password-stdin"),
            1 => format!("DOCKERHUB_TOKEN={t}"),
            _ => format!("the pipeline log prints {t} on line 40"),
        };
        v.push(pos("docker-pat", text, &t));
        let t = format!("{}.{}", "hvs", r.s(24 + 30 * i, B64URL));
        let text = match i {
            0 => format!("export VAULT_TOKEN={t}"),
            1 => format!("X-Vault-Token: {t}"),
            _ => format!("vault login {t}"),
        };
        v.push(pos("vault-token", text, &t));
        let t = format!("{}_{}", "hf", r.s(34, ALNUM));
        let text = match i {
            0 => format!("HF_TOKEN={t}"),
            1 => format!("huggingface-cli login --token {t}"),
            _ => format!("notebook cell 3: login(\"{t}\")"),
        };
        v.push(pos("huggingface-token", text, &t));
        let t = format!("{}_v1_{}", ["dop", "doo", "dor"][i], r.s(64, HEX));
        let text = match i {
            0 => format!("DIGITALOCEAN_ACCESS_TOKEN={t}"),
            1 => format!("doctl auth init -t {t}"),
            _ => format!("terraform.tfvars: do_token = \"{t}\""),
        };
        v.push(pos("digitalocean-token", text, &t));
        let t = format!("{}_{}", ["shpat", "shpca", "shpss"][i], r.s(32, HEX));
        let text = match i {
            0 => format!("SHOPIFY_ACCESS_TOKEN={t}"),
            1 => format!("X-Shopify-Access-Token: {t}"),
            _ => format!("app secret {t} was in the theme repo"),
        };
        v.push(pos("shopify-token", text, &t));
        let t = format!("{}-{}", "GOCSPX", r.s(28, B64URL));
        let text = match i {
            0 => format!("{{\"web\":{{\"client_id\":\"1234-abc.apps.googleusercontent.com\",\"client_secret\":\"{t}\"}}}}"),
            1 => format!("GOOGLE_CLIENT_SECRET={t}"),
            _ => format!("oauth client {t} in the wiki"),
        };
        v.push(pos("gcp-oauth-client-secret", text, &t));
        let t = format!("{}:{}{}", r.s(10, "0123456789"), "AA", r.s(33, B64URL));
        let text = match i {
            0 => format!("TELEGRAM_BOT_TOKEN={t}"),
            1 => format!("curl https://api.telegram.org/bot{t}/getMe"),
            _ => format!("the alert bot uses {t} since March"),
        };
        v.push(pos("telegram-bot-token", text, &t));
        let t = format!("{}{}", "dapi", r.s(32, HEX));
        let text = match i {
            0 => format!("DATABRICKS_TOKEN={t}"),
            1 => format!("[DEFAULT]\nhost = https://adb-1.azuredatabricks.net\ntoken = {t}\n"),
            _ => format!("job 42 ran with {t}"),
        };
        v.push(pos("databricks-token", text, &t));
        let t = format!("{}-{}", "key", r.s(32, HEX));
        let text = match i {
            0 => format!("MAILGUN_API_KEY={t}"),
            1 => format!("curl -s --user 'api:{t}' https://api.mailgun.net/v3/mg.example/messages"),
            _ => format!("mailer config still has {t}"),
        };
        v.push(pos("mailgun-api-key", text, &t));
        let t = format!("{}{}Q~{}", r.s(3, ALNUM), i + 7, r.s(34, B64URL));
        let text = match i {
            0 => format!("az login --service-principal -u 0f3c-app -p {t} --tenant corp"),
            1 => format!("Value of the new secret: {t} (copy it now)"),
            _ => format!("appsettings.json: \"ClientSecret\": \"{t}\""),
        };
        v.push(pos("azure-client-secret", text, &t));
    }
    // more tokens known by their prefix or shape (a loop of their own: the examples
    // above keep drawing the same random values)
    const UPDIG: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for i in 0..3 {
        let t = format!(
            "{}3xFfGF0{}={}",
            ["ATATT", "ATATT", "ATCTT"][i],
            r.s(171, B64URL),
            r.s(8, "0123456789ABCDEF")
        );
        let text = match i {
            0 => format!("JIRA_API_TOKEN={t}"),
            1 => format!("jira = JIRA(server=url, basic_auth=('bot@corp.example', '{t}'))"),
            _ => format!("the org admin key {t} is in the runbook"),
        };
        v.push(pos("atlassian-api-token", text, &t));
        let id = format!("{}{}", 1 + i, r.s(17 + i % 2, DIGITS));
        let t = format!(
            "{}.{}.{}",
            b64url(id.as_bytes()),
            r.s(6, B64URL),
            r.s([27, 38, 27][i], ALNUM)
        );
        let text = match i {
            0 => format!("DISCORD_TOKEN={t}"),
            1 => format!("client.run('{t}')"),
            _ => format!("the moderation bot logs in with {t} from the old VM"),
        };
        v.push(pos("discord-bot-token", text, &t));
        let t = format!(
            "{}-{}",
            ["glrt", "gldt", "glptt"][i],
            r.s(20 + 3 * i, ALNUM)
        );
        let text = match i {
            0 => format!("[[runners]]\n  url = \"https://gitlab.corp\"\n  token = \"{t}\"\n"),
            1 => format!("docker login -u gitlab+deploy-token-7 -p {t} registry.corp"),
            _ => format!("curl -X POST -F token={t} -F ref=main https://gitlab.corp/api/v4/projects/9/trigger/pipeline"),
        };
        v.push(pos("gitlab-token", text, &t));
        // a runner registration token (deprecated, still in old runner configs)
        let t = format!("GR1348941{}", r.s(20, B64URL));
        let text = match i {
            0 => {
                format!("gitlab-runner register --registration-token {t} --url https://gitlab.corp")
            }
            1 => format!("REGISTRATION_TOKEN={t}"),
            _ => format!("the old runners still register with {t}"),
        };
        v.push(pos("gitlab-token", text, &t));
        let t = format!("{}_api_{}", "lin", r.s(40, ALNUM));
        let text = match i {
            0 => format!("LINEAR_API_KEY={t}"),
            1 => format!("Authorization: {t}"),
            _ => format!("the triage bot posts with {t}"),
        };
        v.push(pos("linear-api-key", text, &t));
        let t = if i == 0 {
            format!("{}_{}", "sntryu", r.s(64, HEX))
        } else {
            let claims = format!(
                r#"{{"iat":17{},"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"acme-{}"}}"#,
                r.s(8, DIGITS),
                r.s(5, HEX)
            );
            format!(
                "{}_{}_{}",
                "sntrys",
                b64std(claims.as_bytes()),
                r.s(43, B64)
            )
        };
        let text = match i {
            0 => format!("SENTRY_AUTH_TOKEN={t}"),
            1 => format!("sentry-cli --auth-token {t} releases new 1.2.3"),
            _ => format!("[defaults]\norg=acme\n[auth]\ntoken={t}\n"),
        };
        v.push(pos("sentry-token", text, &t));
        let t = if i == 0 {
            format!("{}_{}_{}", "glsa", r.s(32, ALNUM), r.s(8, HEX))
        } else {
            let claims = format!(
                r#"{{"o":"{}","n":"stack-{}-alloy","k":"{}","m":{{"r":"prod-us-east-0"}}}}"#,
                r.s(6, DIGITS),
                r.s(6, DIGITS),
                r.s(24, ALNUM)
            );
            format!("{}_{}", "glc", b64std(claims.as_bytes()))
        };
        let text = match i {
            0 => format!("GRAFANA_SERVICE_ACCOUNT_TOKEN={t}"),
            1 => format!("alloy: basic_auth {{ password = \"{t}\" }}"),
            _ => format!("cloud token {t} was pasted in #ops"),
        };
        v.push(pos("grafana-token", text, &t));
        let t = if i < 2 {
            format!("{}-{}", "NRAK", r.s(27, UPDIG))
        } else {
            format!("{}{}", r.s(36, HEX), "NRAL")
        };
        let text = match i {
            0 => format!("NEW_RELIC_API_KEY={t}"),
            1 => format!("curl -H 'Api-Key: {t}' https://api.newrelic.com/graphql"),
            _ => format!("newrelic.yml: license_key: {t}"),
        };
        v.push(pos("new-relic-key", text, &t));
        let t = format!("{}-{}-{}", "PMAK", r.s(24, HEX), r.s(34, HEX));
        let text = match i {
            0 => format!("POSTMAN_API_KEY={t}"),
            1 => format!("newman run collection.json --env-var apikey={t}"),
            _ => format!("the shared workspace has {t} in its globals"),
        };
        v.push(pos("postman-api-key", text, &t));
        let t = format!("{}.{}.{}", r.s(14, ALNUM), "atlasv1", r.s(67, ALNUM));
        let text = match i {
            0 => format!("credentials \"app.terraform.io\" {{\n  token = \"{t}\"\n}}\n"),
            1 => format!("TF_TOKEN_app_terraform_io={t}"),
            _ => format!("the team token {t} can apply to prod"),
        };
        v.push(pos("terraform-cloud-token", text, &t));
        let t = format!("{}.{}.{}", "dp", ["pt", "st", "sa"][i], r.s(43, ALNUM));
        let text = match i {
            0 => format!("DOPPLER_TOKEN={t}"),
            1 => format!("doppler run --token {t} -- ./server"),
            _ => format!("service token {t} reads prd secrets"),
        };
        v.push(pos("doppler-token", text, &t));
        let t = format!(
            "{}_{}_{}",
            "pscale",
            ["tkn", "pw", "oauth"][i],
            r.s(43, ALNUM)
        );
        let text = match i {
            0 => format!("PLANETSCALE_SERVICE_TOKEN={t}"),
            1 => format!("mysql://app:{t}@aws.connect.psdb.cloud/orders?sslaccept=strict"),
            _ => format!("the branch password is {t}"),
        };
        v.push(pos("planetscale-token", text, &t));
        let t = format!("{}-{}", "pul", r.s(40, HEX));
        let text = match i {
            0 => format!("PULUMI_ACCESS_TOKEN={t}"),
            1 => format!("pulumi login --cloud-url https://api.pulumi.com # token {t}"),
            _ => format!("the deploy bot's token {t} never expires"),
        };
        v.push(pos("pulumi-token", text, &t));
        let t = format!(
            "{}-{}-{}-1{}",
            "AGE",
            "SECRET",
            "KEY",
            r.s(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")
        );
        let text = match i {
            0 => format!(
                "# created: 2026-11-02\n# public key: age1{}\n{t}\n",
                r.s(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l")
            ),
            1 => format!("SOPS_AGE_KEY={t}"),
            _ => format!("the backup key {t} is on the wiki"),
        };
        v.push(pos("age-secret-key", text, &t));
        let claims = format!(
            r#"{{"signInAddress":"acme.1password.com","userAuth":{{"method":"SRPg-4096","alg":"PBES2g-HS256","iterations":650000,"salt":"{}"}},"email":"{}@1passwordserviceaccounts.com","srpX":"{}","muk":{{"alg":"A256GCM","k":"{}","kty":"oct","kid":"mp"}},"secretKey":"A3-{}","deviceUuid":"{}"}}"#,
            r.s(22, B64URL),
            r.s(13, "abcdefghijklmnopqrstuvwxyz234567"),
            r.s(64, HEX),
            r.s(43, B64URL),
            r.s(26, UPDIG),
            r.s(26, "abcdefghijklmnopqrstuvwxyz234567")
        );
        let t = format!("{}_{}", "ops", b64std(claims.as_bytes()));
        let text = match i {
            0 => format!("OP_SERVICE_ACCOUNT_TOKEN={t}"),
            1 => format!("export OP_SERVICE_ACCOUNT_TOKEN=\"{t}\""),
            _ => format!("the CI vault reader uses {t}"),
        };
        v.push(pos("onepassword-token", text, &t));
        let t = format!(
            "{}-{}-k{}CNTRL-{}",
            "tskey",
            ["auth", "api", "client"][i],
            r.s(10, ALNUM),
            r.s(32, ALNUM)
        );
        let text = match i {
            0 => format!("tailscale up --authkey={t}"),
            1 => format!("TS_API_KEY={t}"),
            _ => format!("every new node joins with {t}"),
        };
        v.push(pos("tailscale-key", text, &t));
        let t = if i < 2 {
            format!("{}{}", "AKCp", r.s(69, ALNUM))
        } else {
            format!("{}{}", "cmVmdGtuOjAxOj", r.s(50, ALNUM))
        };
        let text = match i {
            0 => format!("ARTIFACTORY_API_KEY={t}"),
            1 => format!(
                "curl -H 'X-JFrog-Art-Api: {t}' https://corp.jfrog.io/artifactory/api/repositories"
            ),
            _ => format!("the build pulls with reference token {t}"),
        };
        v.push(pos("jfrog-token", text, &t));
        let t = format!("{}_{}", "whsec", r.s(32, ALNUM));
        let text = match i {
            0 => format!("STRIPE_WEBHOOK_SECRET={t}"),
            1 => format!("stripe listen prints: Your webhook signing secret is {t}"),
            _ => format!("the signing secret {t} is in the repo"),
        };
        v.push(pos("stripe-webhook-secret", text, &t));
    }
    // keys in base64, as Kubernetes secrets and CI variables hold them
    for i in 0..3 {
        let pem = format!(
            "-----BEGIN {}PRIVATE KEY-----\n{}\n{}\n-----END {}PRIVATE KEY-----\n",
            ["", "RSA ", "OPENSSH "][i],
            r.s(64, B64),
            r.s(40, B64),
            ["", "RSA ", "OPENSSH "][i]
        );
        let t = b64std(pem.as_bytes());
        let text = match i {
            0 => format!("apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {t}\n", b64std(b"-----BEGIN CERTIFICATE-----\nMIIB\n")),
            1 => format!("DEPLOY_SSH_KEY_B64={t}"),
            _ => format!("the runner's key ({t}) is in the job log"),
        };
        v.push(pos("private-key", text, &t));
        let key = format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"acme-{}\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"ci@acme.iam.gserviceaccount.com\"\n}}\n",
            r.s(6, DIGITS),
            r.s(40, HEX),
            r.s(64, B64)
        );
        let compact = key.replace("\n  ", "").replace("\": \"", "\":\"");
        let t = match i {
            0 => b64std(key.as_bytes()),
            1 => b64std(compact.as_bytes()),
            _ => b64std(
                compact
                    .replace("\",\"", "\", \"")
                    .replace("\":\"", "\": \"")
                    .as_bytes(),
            ),
        };
        let text = match i {
            0 => format!("data:\n  key.json: {t}\n"),
            1 => format!("GOOGLE_CREDENTIALS_B64={t}"),
            _ => format!("secret gcp-sa was created from {t}"),
        };
        v.push(pos("gcp-service-account-key", text, &t));
        let login = b64std(format!("robot$ci:{}", r.s(24, ALNUM)).as_bytes());
        let pw = r.s(18 + i, ALNUM);
        let config = match i {
            0 => format!("{{\"auths\":{{\"ghcr.io\":{{\"username\":\"ci\",\"auth\":\"{login}\"}}}}}}"),
            1 => format!("{{\n\t\"auths\": {{\n\t\t\"registry.acme.example\": {{\n\t\t\t\"auth\": \"{login}\"\n\t\t}}\n\t}}\n}}"),
            _ => format!("{{\n  \"auths\": {{\n    \"quay.io\": {{\n      \"username\": \"bot\",\n      \"password\": \"{pw}\"\n    }}\n  }}\n}}"),
        };
        let t = b64std(config.as_bytes());
        let text = match i {
            0 => format!("type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {t}\n"),
            1 => format!("DOCKER_AUTH_CONFIG_B64={t}"),
            _ => format!("the pull secret was {t} until yesterday"),
        };
        v.push(pos("generic-secret", text, &t));
    }
    // credentials in commands and headers
    for i in 0..3 {
        let t = format!("00{}", r.s(40, B64URL));
        let text = match i {
            0 => format!("curl -H \"Authorization: SSWS {t}\" https://acme.okta.com/api/v1/users"),
            1 => format!("headers = {{'Authorization': 'SSWS {t}'}}"),
            _ => format!("Authorization: Splunk {}", guid(r)),
        };
        let t = match i {
            2 => text.rsplit(' ').next().unwrap_or_default().to_string(),
            _ => t,
        };
        v.push(pos("bearer-token", text, &t));
        let t = r.s(32, HEX);
        let text = match i {
            0 => format!(
                "curl -H \"Ocp-Apim-Subscription-Key: {t}\" https://api.acme.azure-api.net/orders"
            ),
            1 => format!("AZURE_SUBSCRIPTION_KEY={t}"),
            _ => format!("{{\"subscriptionKey\": \"{t}\"}}"),
        };
        v.push(pos("generic-secret", text, &t));
        let t = format!("{}!{}", r.s(8, ALNUM), r.s(6 + i, ALNUM));
        let text = match i {
            0 => format!("curl -u admin:{t} https://jenkins.acme.example/api/json"),
            1 => {
                format!("curl -s -X POST --user=deploy:{t} https://nexus.acme.example/service/rest")
            }
            _ => {
                format!("curl -fsSL -u 'svc-backup:{t}' -o dump.sql https://db.acme.example/export")
            }
        };
        v.push(pos("generic-secret", text, &t));
        let t = r.s(16 + i, ALNUM);
        let text = match i {
            0 => format!("docker login -u ci-bot -p {t} registry.acme.example"),
            1 => format!("podman login --username robot --password={t} quay.io"),
            _ => format!("helm registry login ghcr.io -u ops --password {t}"),
        };
        v.push(pos("generic-secret", text, &t));
        let t = format!("{}-AA{}", "HRKU", r.s(58, B64URL));
        let text = match i {
            0 => format!("HEROKU_API_KEY={t}"),
            1 => format!("heroku authorizations:create printed {t}"),
            _ => format!("the release bot still uses {t}"),
        };
        v.push(pos("heroku-api-key", text, &t));
        let t = format!("{}_{}", "gsk", r.s(52, ALNUM));
        let text = match i {
            0 => format!("GROQ_API_KEY={t}"),
            1 => format!("client = Groq(api_key=\"{t}\")"),
            _ => format!("the eval job calls the model with {t}"),
        };
        v.push(pos("groq-api-key", text, &t));
        let t = format!("{}-{}", "pplx", r.s(48, ALNUM));
        let text = match i {
            0 => format!("PERPLEXITY_API_KEY={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the research bot posts with {t}"),
        };
        v.push(pos("perplexity-api-key", text, &t));
        let t = format!("{}_{}{}", "ntn", r.s(11, DIGITS), r.s(35, ALNUM));
        let text = match i {
            0 => format!("NOTION_TOKEN={t}"),
            1 => format!("const notion = new Client({{ auth: \"{t}\" }})"),
            _ => format!("the wiki sync integration uses {t}"),
        };
        v.push(pos("notion-token", text, &t));
        let t = if i == 0 {
            format!("{}_{}", "fo1", r.s(43, B64URL))
        } else {
            format!("{}_{}", "fm2", r.s(120 + i, B64))
        };
        let text = match i {
            0 => format!("FLY_API_TOKEN={t}"),
            1 => format!("Authorization: FlyV1 {t}"),
            _ => format!("flyctl deploy ran with {t}"),
        };
        v.push(pos("flyio-token", text, &t));
        let t = format!("{}~{}", "sha256", r.s(43, B64URL));
        let text = match i {
            0 => format!("oc login --token={t} --server=https://api.ocp.acme.example:6443"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the pipeline service account token is {t}"),
        };
        v.push(pos("openshift-token", text, &t));
        let t = format!("{}.{}.{}", "dt0c01", r.s(24, UPNUM), r.s(64, ALNUM));
        let text = match i {
            0 => format!("DT_API_TOKEN={t}"),
            1 => format!("Authorization: Api-Token {t}"),
            _ => format!("the OneAgent installer was given {t}"),
        };
        v.push(pos("dynatrace-token", text, &t));
        let t = format!("{}_{}", "pnu", r.s(36, ALNUM));
        let text = match i {
            0 => format!("PREFECT_API_KEY={t}"),
            1 => format!("prefect cloud login -k {t}"),
            _ => format!("the flow runner authenticates with {t}"),
        };
        v.push(pos("prefect-token", text, &t));
        let t = format!("{}{}", "ABSK", r.s(120 + 20 * i, B64));
        let text = match i {
            0 => format!("AWS_BEARER_TOKEN_BEDROCK={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the chatbot calls Bedrock with {t}"),
        };
        v.push(pos("aws-bedrock-api-key", text, &t));
        let t = format!(
            "{}.{}.{}.{}",
            if i == 1 { "sat" } else { "pat" },
            r.s(22, B64URL),
            r.s(24, ALNUM),
            r.s(20, ALNUM)
        );
        let text = match i {
            0 => format!("HARNESS_API_KEY={t}"),
            1 => format!("x-api-key: {t}"),
            _ => format!("the deploy pipeline token is {t}"),
        };
        v.push(pos("harness-token", text, &t));
        let t = format!("{}_{}", ["squ", "sqp", "sqa"][i], r.s(40, HEX));
        let text = match i {
            0 => format!("SONAR_TOKEN={t}"),
            1 => format!("mvn sonar:sonar -Dsonar.token={t}"),
            _ => format!("the scanner step authenticates with {t}"),
        };
        v.push(pos("sonarqube-token", text, &t));
        let t = format!("{}_{}", "bkua", r.s(40, HEX));
        let text = match i {
            0 => format!("BUILDKITE_API_TOKEN={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the release script calls Buildkite with {t}"),
        };
        v.push(pos("buildkite-token", text, &t));
        let t = format!("{}_{}", "sbp", r.s(40, HEX));
        let text = match i {
            0 => format!("SUPABASE_ACCESS_TOKEN={t}"),
            1 => format!("supabase login --token {t}"),
            _ => format!("the migration job links the project with {t}"),
        };
        v.push(pos("supabase-token", text, &t));
        let t = format!("{}-{}", "xai", r.s(80, ALNUM));
        let text = match i {
            0 => format!("XAI_API_KEY={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the summariser calls Grok with {t}"),
        };
        v.push(pos("xai-api-key", text, &t));
        let t = format!("{}_{}", "r8", r.s(37, ALNUM));
        let text = match i {
            0 => format!("REPLICATE_API_TOKEN={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the image job runs models with {t}"),
        };
        v.push(pos("replicate-token", text, &t));
    }
    // prefixed tokens of more providers, and signed links
    for i in 0..3 {
        let t = if i == 1 {
            format!("1//0{}", r.s(99, B64URL))
        } else {
            format!("ya29.a0{}", r.s(150, B64URL))
        };
        let text = match i {
            0 => format!("GOOGLE_OAUTH_ACCESS_TOKEN={t}"),
            1 => format!("{{\"refresh_token\": \"{t}\", \"scope\": \"https://www.googleapis.com/auth/drive\"}}"),
            _ => format!("gcloud auth print-access-token gave {t} and I pasted it in the channel"),
        };
        v.push(pos("google-oauth-token", text, &t));
        let t = [
            format!("EAAA{}", r.s(60, B64URL)),
            format!("sq0atp-{}", r.s(22, B64URL)),
            format!("sq0csp-{}", r.s(43, B64URL)),
        ][i]
            .clone();
        let text = match i {
            0 => format!("SQUARE_ACCESS_TOKEN={t}"),
            1 => format!("square:\n  application_secret: {t}\n"),
            _ => format!("the POS sync still authenticates with {t}"),
        };
        v.push(pos("square-token", text, &t));
        let t = format!("EAA{}{}", ["B", "G", "J"][i], r.s(180, ALNUM));
        let text = match i {
            0 => format!("FB_PAGE_ACCESS_TOKEN={t}"),
            1 => {
                format!("curl -G https://graph.facebook.com/v19.0/me/accounts -d access_token={t}")
            }
            _ => format!("the marketing bot posts with {t}"),
        };
        v.push(pos("facebook-access-token", text, &t));
        let t = format!(
            "{}-{}-{}",
            ["xkeysib", "xsmtpsib", "xkeysib"][i],
            r.s(64, HEX),
            r.s(16, ALNUM)
        );
        let text = match i {
            0 => format!("BREVO_API_KEY={t}"),
            1 => format!("api-key: {t}"),
            _ => format!("the newsletter job sends through Brevo with {t}"),
        };
        v.push(pos("brevo-api-key", text, &t));
        let t = format!("LTAI{}", r.s([20, 16, 20][i], ALNUM));
        let text = match i {
            0 => format!("ALIBABA_CLOUD_ACCESS_KEY_ID={t}"),
            1 => format!("aliyun configure set --access-key-id {t} --region cn-hangzhou"),
            _ => format!("the OSS backup script logs in with {t}"),
        };
        v.push(pos("alibaba-access-key-id", text, &t));
        let t = format!("AKID{}", r.s(32, ALNUM));
        let text = match i {
            0 => format!("TENCENTCLOUD_SECRET_ID={t}"),
            1 => format!("tccli configure set secretId {t}"),
            _ => format!("the COS sync uses {t}"),
        };
        v.push(pos("tencent-secret-id", text, &t));
        let t = format!("sk.eyJ1Ijoi{}.{}", r.s(60, B64URL), r.s(22, B64URL));
        let text = match i {
            0 => format!("MAPBOX_DOWNLOADS_TOKEN={t}"),
            1 => format!("mapbox.secretToken = {t}"),
            _ => format!("the tiles upload step uses {t}"),
        };
        v.push(pos("mapbox-token", text, &t));
        let t = format!("figd_{}", r.s(40, B64URL));
        let text = match i {
            0 => format!("FIGMA_TOKEN={t}"),
            1 => format!("X-Figma-Token: {t}"),
            _ => format!("the design export job reads files with {t}"),
        };
        v.push(pos("figma-token", text, &t));
        let t = format!("nfp_{}", r.s(36, ALNUM));
        let text = match i {
            0 => format!("NETLIFY_AUTH_TOKEN={t}"),
            1 => format!("netlify deploy --prod --auth {t}"),
            _ => format!("the preview deploys run with {t}"),
        };
        v.push(pos("netlify-token", text, &t));
        let t = format!("rubygems_{}", r.s(48, HEX));
        let text = match i {
            0 => format!("GEM_HOST_API_KEY={t}"),
            1 => format!("---\n:rubygems_api_key: {t}\n"),
            _ => format!("the gem release job pushes with {t}"),
        };
        v.push(pos("rubygems-api-key", text, &t));
        let t = format!("oy2{}", r.s(43, "abcdefghijklmnopqrstuvwxyz0123456789"));
        let text = match i {
            0 => format!("NUGET_API_KEY={t}"),
            1 => format!("dotnet nuget push Acme.Core.3.1.0.nupkg --api-key {t} --source https://api.nuget.org/v3/index.json"),
            _ => format!("the package job publishes with {t}"),
        };
        v.push(pos("nuget-api-key", text, &t));
        let t = format!("shippo_{}_{}", ["live", "test", "live"][i], r.s(40, HEX));
        let text = match i {
            0 => format!("SHIPPO_API_TOKEN={t}"),
            1 => format!("Authorization: ShippoToken {t}"),
            _ => format!("the label printer calls Shippo with {t}"),
        };
        v.push(pos("shippo-token", text, &t));
        let t = format!(
            "{}-{}-X",
            ["FLWSECK", "FLWSECK_TEST", "FLWSECK"][i],
            r.s(32, HEX)
        );
        let text = match i {
            0 => format!("FLW_SECRET_KEY={t}"),
            1 => format!("flutterwave:\n  secret: {t}\n"),
            _ => format!("payments still use {t}"),
        };
        v.push(pos("flutterwave-secret-key", text, &t));
        let t = format!(
            "lsv2_{}_{}_{}",
            ["pt", "sk", "pt"][i],
            r.s(32, HEX),
            r.s(10, HEX)
        );
        let text = match i {
            0 => format!("LANGSMITH_API_KEY={t}"),
            1 => format!("x-api-key: {t}"),
            _ => format!("the agent traces to LangSmith with {t}"),
        };
        v.push(pos("langsmith-api-key", text, &t));
        let t = format!("pcsk_{}_{}", r.s(6, ALNUM), r.s(64, ALNUM));
        let text = match i {
            0 => format!("PINECONE_API_KEY={t}"),
            1 => format!("Api-Key: {t}"),
            _ => format!("the embedding index is written with {t}"),
        };
        v.push(pos("pinecone-api-key", text, &t));
        let t = format!(
            "https://{}.com/api/webhooks/{}/{}",
            ["discord", "discordapp", "discord"][i],
            r.s(19, DIGITS),
            r.s(68, B64URL)
        );
        let text = match i {
            0 => format!("DISCORD_WEBHOOK_URL={t}"),
            1 => format!("curl -H \"Content-Type: application/json\" -d @alert.json {t}"),
            _ => format!("alerts go to {t} right now"),
        };
        v.push(pos("discord-webhook", text, &t));
        let t = format!(
            "https://{}/{}@{}/IncomingWebhook/{}/{}",
            [
                "contoso.webhook.office.com/webhookb2",
                "outlook.office.com/webhook",
                "acme.webhook.office.com/webhookb2"
            ][i],
            guid(r),
            guid(r),
            r.s(32, HEX),
            guid(r)
        );
        let text = match i {
            0 => format!("TEAMS_WEBHOOK_URL={t}"),
            1 => format!("Invoke-RestMethod -Method Post -Uri {t} -Body $card"),
            _ => format!("the build posts to {t} on failure"),
        };
        v.push(pos("teams-webhook", text, &t));
        let t = format!("napi_{}", r.s(64, "abcdefghijklmnopqrstuvwxyz0123456789"));
        let text = match i {
            0 => format!("NEON_API_KEY={t}"),
            1 => format!("neonctl projects list --api-key {t}"),
            _ => format!("the branch-per-PR job uses {t}"),
        };
        v.push(pos("neon-api-key", text, &t));
        let t = format!(
            "CLOJARS_{}",
            r.s(60, "abcdefghijklmnopqrstuvwxyz0123456789")
        );
        let text = match i {
            0 => format!("CLOJARS_PASSWORD={t}"),
            1 => format!(
                ":deploy-repositories [[\"clojars\" {{:username \"acme\" :password \"{t}\"}}]]"
            ),
            _ => format!("the library release uses {t}"),
        };
        v.push(pos("clojars-token", text, &t));
        let t = format!("rdme_{}", r.s(70, "abcdefghijklmnopqrstuvwxyz0123456789"));
        let text = match i {
            0 => format!("README_API_KEY={t}"),
            1 => format!("rdme openapi ./openapi.json --key={t}"),
            _ => format!("the docs sync uses {t}"),
        };
        v.push(pos("readme-api-key", text, &t));
        let t = format!("sl.{}{}", ["", "u.", ""][i], r.s(138, B64URL));
        let text = match i {
            0 => format!("DROPBOX_ACCESS_TOKEN={t}"),
            1 => format!("curl -X POST https://api.dropboxapi.com/2/files/list_folder --header \"Authorization: Bearer {t}\""),
            _ => format!("the scanner uploads to Dropbox with {t}"),
        };
        v.push(pos("dropbox-token", text, &t));
        let t = format!("{}{}", ["EZAK", "EZTK", "EZAK"][i], r.s(54, ALNUM));
        let text = match i {
            0 => format!("EASYPOST_API_KEY={t}"),
            1 => format!("easypost.api_key = \"{t}\""),
            _ => format!("shipping labels are bought with {t}"),
        };
        v.push(pos("easypost-api-key", text, &t));
        let t = format!("fio-u-{}", r.s(64, B64URL));
        let text = match i {
            0 => format!("FRAMEIO_TOKEN={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the render farm uploads with {t}"),
        };
        v.push(pos("frameio-token", text, &t));
        let t = format!("tfp_{}_{}", r.s(44, ALNUM), r.s(14, ALNUM));
        let text = match i {
            0 => format!("TYPEFORM_TOKEN={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the survey export runs with {t}"),
        };
        v.push(pos("typeform-token", text, &t));
        let t = format!("v1.0-{}-{}", r.s(24, HEX), r.s(146, HEX));
        let text = match i {
            0 => format!("CF_ORIGIN_CA_KEY={t}"),
            1 => format!("X-Auth-User-Service-Key: {t}"),
            _ => format!("cert-manager renews origin certificates with {t}"),
        };
        v.push(pos("cloudflare-origin-ca-key", text, &t));
        let t = format!("rnd_{}", r.s(32, ALNUM));
        let text = match i {
            0 => format!("RENDER_API_KEY={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("deploy hooks call Render with {t}"),
        };
        v.push(pos("render-api-key", text, &t));
        let t = format!("CFPAT-{}", r.s(43, B64URL));
        let text = match i {
            0 => format!("CONTENTFUL_MANAGEMENT_TOKEN={t}"),
            1 => format!("contentful login --management-token {t}"),
            _ => format!("the CMS migration runs with {t}"),
        };
        v.push(pos("contentful-token", text, &t));
        let t = format!("duffel_{}_{}", ["live", "test", "live"][i], r.s(43, B64URL));
        let text = match i {
            0 => format!("DUFFEL_ACCESS_TOKEN={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the booking service calls Duffel with {t}"),
        };
        v.push(pos("duffel-token", text, &t));
        let t = format!("{}-us{}", r.s(32, HEX), [14, 6, 21][i]);
        let text = match i {
            0 => format!("MAILCHIMP_API_KEY={t}"),
            1 => format!("curl https://us14.api.mailchimp.com/3.0/ --user \"anystring:{t}\""),
            _ => format!("the list sync uses {t}"),
        };
        v.push(pos("mailchimp-api-key", text, &t));
        let t = format!("tk-us-{}", r.s(48, B64URL));
        let text = match i {
            0 => format!("SCALINGO_API_TOKEN={t}"),
            1 => format!("scalingo login --api-token {t}"),
            _ => format!("the review apps deploy with {t}"),
        };
        v.push(pos("scalingo-token", text, &t));
        let t = format!(
            "AAAAAAAAAAAAAAAAAAAAA{}AAAAAAAA{}%2B{}%3D{}",
            r.s(4, ALNUM),
            r.s(20, ALNUM),
            r.s(8, ALNUM),
            r.s(50, ALNUM)
        );
        let text = match i {
            0 => format!("TWITTER_BEARER_TOKEN={t}"),
            1 => format!(
                "curl https://api.x.com/2/tweets/search/recent -H \"Authorization: Bearer {t}\""
            ),
            _ => format!("the social listener reads the API with {t}"),
        };
        v.push(pos("twitter-bearer-token", text, &t));
        let t = format!("AQVN{}", r.s(36, B64URL));
        let text = match i {
            0 => format!("YC_API_KEY={t}"),
            1 => format!("Authorization: Api-Key {t}"),
            _ => format!("the translation job calls Yandex Cloud with {t}"),
        };
        v.push(pos("yandex-api-key", text, &t));
        let t = format!("ATBB{}", r.s(32, ALNUM));
        let text = match i {
            0 => format!("BITBUCKET_APP_PASSWORD={t}"),
            1 => format!("git clone https://ci-bot:{t}@bitbucket.org/acme/api.git"),
            _ => format!("the mirror job pushes with {t}"),
        };
        v.push(pos("bitbucket-app-password", text, &t));
        let t = format!("AAAA{}:APA91b{}", r.s(7, B64URL), r.s(134, B64URL));
        let text = match i {
            0 => format!("FCM_SERVER_KEY={t}"),
            1 => format!("Authorization: key={t}"),
            _ => format!("push notifications are sent with {t}"),
        };
        v.push(pos("firebase-fcm-key", text, &t));
        let t = format!("p8e-{}", r.s(32, ALNUM));
        let text = match i {
            0 => format!("ADOBE_CLIENT_SECRET={t}"),
            1 => format!("client_secret: {t}"),
            _ => format!("the PDF service authenticates with {t}"),
        };
        v.push(pos("adobe-client-secret", text, &t));
        let t = format!("sk-or-v1-{}", r.s(64, HEX));
        let text = match i {
            0 => format!("OPENROUTER_API_KEY={t}"),
            1 => format!("Authorization: Bearer {t}"),
            _ => format!("the eval harness calls models with {t}"),
        };
        v.push(pos("openrouter-api-key", text, &t));
        let t = [format!("https://acme-exports.s3.amazonaws.com/q3.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261203T120000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature={}", r.s(64, HEX)), format!("https://storage.googleapis.com/acme-dumps/db.sql.gz?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature={}", r.s(512, HEX)), format!("https://d111111abcdef8.cloudfront.net/report.pdf?Expires=1767225600&Signature={}~{}__&Key-Pair-Id=K2JCJMDEHXQW5F", r.s(90, B64URL), r.s(80, B64URL))][i].clone();
        let sig = t
            .rsplit_once("Signature=")
            .map_or("", |(_, s)| s.split('&').next().unwrap_or(s))
            .to_string();
        let text = match i {
            0 => format!("the export link {t} still works"),
            1 => format!("download: {t}"),
            _ => format!("I found {t} pasted in the ticket"),
        };
        v.push(pos("signed-url-signature", text, &sig));
    }
    // more passwords in commands and files
    for i in 0..3 {
        let t = format!("{}!{}", r.s(8, ALNUM), r.s(5 + i, ALNUM));
        let text = match i {
            0 => format!("mysql -h db1 -u root -p{t} orders"),
            1 => format!("mysqldump -uapp -p{t} --single-transaction shop > shop.sql"),
            _ => format!("mariadb -u admin -p{t}"),
        };
        v.push(pos("generic-secret", text, &t));
        let t = format!("{}-{}", r.s(9, ALNUM), r.s(4 + i, ALNUM));
        let text = match i {
            0 => format!("sshpass -p '{t}' ssh ops@bastion"),
            1 => format!("sshpass -p{t} scp dump.sql backup@nas:/srv"),
            _ => format!("sshpass -p \"{t}\" rsync -a /etc root@10.0.0.9:/backup"),
        };
        v.push(pos("generic-secret", text, &t));
        let t = r.s(14 + i, ALNUM);
        let text = match i {
            0 => format!("machine api.acme.example login deploy password {t}"),
            1 => format!("~/.netrc:\nmachine github.com login ci-bot password {t}\n"),
            _ => format!("machine nexus.acme.example\tlogin\tbuild\tpassword\t{t}"),
        };
        v.push(pos("generic-secret", text, &t));
        let login = format!("robot$ci:{}", r.s(20 + i, ALNUM));
        let t = b64std(login.as_bytes());
        let text = match i {
            0 => format!("{{\"auths\":{{\"registry.acme.example\":{{\"auth\":\"{t}\"}}}}}}"),
            1 => format!("{{\n  \"auths\": {{\n    \"https://index.docker.io/v1/\": {{\n      \"auth\": \"{t}\"\n    }}\n  }}\n}}"),
            _ => format!(".dockerconfigjson decoded: \"auth\" : \"{t}\""),
        };
        v.push(pos("generic-secret", text, &t));
        let t = r.s(26 + i, ALNUM);
        let text = match i {
            0 => format!("Cookie: sessionid={t}; csrftoken=abc"),
            1 => format!("Set-Cookie: JSESSIONID={t}; Path=/; HttpOnly"),
            _ => format!("PHPSESSID={t}"),
        };
        v.push(pos("generic-secret", text, &t));
    }
    // passwords with spaces, quoted on a command line
    for i in 0..3 {
        let t = format!("{} {}", r.s(7, ALNUM), r.s(6 + i, ALNUM));
        let text = match i {
            0 => format!("sshpass -p '{t}' ssh ops@bastion"),
            1 => format!("mysql -u root -p\"{t}\" orders"),
            _ => format!("net user svc_sql \"{t}\" /add"),
        };
        v.push(pos("generic-secret", text, &t));
    }
    // passwords given to admin tools on their command line
    for i in 0..3 {
        let t = format!("{}#{}", r.s(7, ALNUM), r.s(4 + i, ALNUM));
        let text = match i {
            0 => format!("net use Z: \\\\fs01\\finance {t} /user:CORP\\svc_backup /persistent:no"),
            1 => format!("C:\\> net use \\\\10.0.4.12\\IPC$ /user:corp\\administrator {t}\r\nThe command completed successfully."),
            _ => format!("net user svc_sql {t} /add /domain"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("smbclient //fs01/share -U backup%{t}"),
            1 => format!("rpcclient -U \"CORP\\svc%{t}\" 10.0.0.5"),
            _ => format!("smbclient -L //nas --user=admin%{t}"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("xfreerdp /u:admin /p:{t} /v:10.0.0.7"),
            1 => format!("xfreerdp /v:jump01 /u:ops /p:'{t}' +clipboard"),
            _ => format!("rdesktop -u administrator -p {t} 10.1.1.5"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("sqlcmd -S db01 -U sa -P {t} -Q \"select 1\""),
            1 => format!("PsExec.exe \\\\web02 -u CORP\\svc_deploy -p {t} cmd.exe"),
            _ => format!("sqlcmd -S tcp:db,1433 -U app -P\"{t}\""),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("ldapsearch -x -H ldap://dc01 -D \"cn=admin,dc=corp\" -w {t} -b dc=corp"),
            1 => format!("ldapmodify -D cn=svc -w'{t}' -f change.ldif"),
            _ => format!("ldapwhoami -x -D uid=bind,ou=svc -w {t}"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("ldappasswd -x -D cn=admin,dc=corp -w \"$BIND\" -s {t} uid=svc,dc=corp"),
            1 => format!("RUN echo 'root:{t}' | chpasswd"),
            _ => format!("echo \"{t}\" | docker login -u ci --password-stdin reg.acme.example"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("ipmitool -I lanplus -H 10.0.0.9 -U ADMIN -P {t} power status"),
            1 => format!("mosquitto_pub -h mq.acme.example -u iot -P '{t}' -t site/1 -m on"),
            _ => format!("rabbitmqctl add_user svc_orders {t}"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("lftp -u deploy,{t} sftp://files.acme.example"),
            1 => {
                format!("schtasks /create /tn backup /tr b.cmd /sc daily /ru CORP\\svc /rp \"{t}\"")
            }
            _ => format!("winrs -r:web01 -u:CORP\\svc -p:{t} ipconfig"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("snmpwalk -v3 -u mon -l authNoPriv -a SHA -A {t} 10.0.0.1"),
            1 => format!(
                "snmpget -v3 -l authPriv -u mon -a SHA -A \"$SNMP_AUTH\" -x AES -X '{t}' sw01 sysName.0"
            ),
            _ => format!("vncpasswd -f <<< {t} > ~/.vnc/passwd"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("echo {t} | sudo -S systemctl restart app"),
            1 => format!("sudo -S <<< \"{t}\" apt-get update"),
            _ => format!("mysqladmin -u root password '{t}'"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("influx -username admin -password {t} -execute 'show databases'"),
            1 => format!(
                "Invoke-Sqlcmd -ServerInstance db01 -Username sa -Password '{t}' -Query 'select 1'"
            ),
            _ => format!("./deploy.sh --client-secret {t} --tenant acme"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("redis-cli -h cache01 -a {t} ping"),
            1 => {
                format!("mongosh \"mongodb://db01\" -u admin -p {t} --authenticationDatabase admin")
            }
            _ => format!("mongodump --username=backup --password={t} --out /srv/dump"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("openssl pkcs12 -export -in c.pem -out c.p12 -passout pass:{t}"),
            1 => format!(
                "keytool -importkeystore -srckeystore a.p12 -srcstorepass {t} -destkeystore b.jks"
            ),
            _ => format!("openssl rsa -in key.pem -passin 'pass:{t}'"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("sqlplus system/{t}@db01:1521/ORCL"),
            1 => format!("sqlplus -s app/{t}@//db.acme.example:1521/svc @report.sql"),
            _ => format!("az login --service-principal -u ci-deployer -p {t} --tenant acme"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("htpasswd -b /etc/nginx/.htpasswd admin {t}"),
            1 => format!("htpasswd -bc -C 10 .htpasswd ops {t}"),
            _ => format!("htpasswd -nbB grafana {t} >> users"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("$pw = ConvertTo-SecureString '{t}' -AsPlainText -Force"),
            1 => format!("ConvertTo-SecureString -String \"{t}\" -AsPlainText -Force"),
            _ => format!("<settings><servers><server><id>nexus</id><password>{t}</password></server></servers></settings>"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("<add key=\"StripeApiKey\" value=\"{t}\" />"),
            1 => format!("  <clientSecret>{t}</clientSecret>"),
            _ => format!("<add key=\"ClearTextPassword\" value=\"{t}\" />"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("mysql> CREATE USER 'orders'@'%' IDENTIFIED BY '{t}';"),
            1 => format!("        - name: DB_PASSWORD\n          value: \"{t}\"\n"),
            _ => format!("define( 'DB_PASSWORD', '{t}' );"),
        };
        v.push(pos("generic-secret", text, &t));
        let text = match i {
            0 => format!("The password for svc-backup is now {t}, please rotate it."),
            1 => format!("echo {t} | kinit svc_backup@CORP.EXAMPLE"),
            _ => format!("expect \"password:\" {{ send \"{t}\\r\" }}"),
        };
        v.push(pos("generic-secret", text, &t));
        let t = format!("hvs.{}", r.s(24 + i, ALNUM)).replace("hvs.", "s.");
        let text = match i {
            0 => format!("vault login {t}"),
            1 => format!("$ vault login -no-print {t}\nSuccess!"),
            _ => format!("vault login -address=https://vault.acme.example {t} "),
        };
        v.push(pos("generic-secret", text, &t));
    }

    // A password given to a tool on its command line.
    for (i, line) in [
        "plink -ssh admin@host -pw {} uptime",
        "pscp.exe -pw \"{}\" build.zip deploy@host:/srv",
        "evil-winrm -i 10.0.0.5 -u administrator -p '{}'",
        "crackmapexec smb 10.0.0.0/24 -u svc_sql -p {}",
        "nxc winrm dc01 -u admin -p {} -x whoami",
        "nmcli dev wifi connect CorpGuest password {}",
        "nmcli con modify office wifi-sec.psk '{}'",
        "wpa_passphrase \"Home WiFi\" {} > /etc/wpa.conf",
        "useradd -m -p \"$(openssl passwd -6 {})\" svc",
        "openssl passwd -1 -salt ab12 {}",
        "rclone config create backup ftp host ftp.example.org user bob pass {}",
        "rar a -hp{} backup.rar /srv/data",
        "UnRAR.exe x -p{} dump.rar",
        // A password in another language's words, as a label or in a sentence.
        "Passwort: {}",
        "Das neue Kennwort für svc-backup ist {}",
        "mot de passe\u{202f}: {}",
        "Le mot de passe est {}.",
        "contraseña: {}",
        "La contraseña es {}",
        "senha: \"{}\"",
        "wachtwoord = {}",
        "hasło: {}",
        "Lösenord: {}",
        "salasana: {}",
        "heslo pro server: {}",
        "şifre: {}",
        "пароль: {}",
        "jelszó: {}",
        "パスワード：{}",
        "密码：{}。",
        "비밀번호: {}",
        "Password：{}",
    ]
    .into_iter()
    .enumerate()
    {
        let t = format!("{}{}", r.s(9 + i % 2, ALNUM), ["7q", "Q7", "x!9"][i % 3]);
        v.push(pos("generic-secret", line.replace("{}", &t), &t));
    }

    // Microsoft's identifiable keys, each with its service's signature, bare in a log
    // line, in code and in prose
    let keys = [
        // Azure OpenAI / AI services (ACOG), Azure DevOps (AZDO)
        format!(
            "{}JQQJ99BLAC{}XJ3w3AAABACOG{}",
            r.s(52, ALNUM),
            r.s(5, ALNUM),
            r.s(4, ALNUM)
        ),
        format!(
            "{}JQQJ99BKACAAAAAAAAAAAAASAZDO{}",
            r.s(52, ALNUM),
            r.s(4, ALNUM)
        ),
        format!("{}+ASt{}A==", r.s(76, B64), r.s(5, B64)),
        format!("{}ACDb{}g==", r.s(76, B64), r.s(5, B64)),
        format!("{}+ASbB{}=", r.s(33, B64), r.s(5, B64)),
        format!("{}AzCaK{}=", r.s(33, B64), r.s(5, B64)),
        format!("{}+ACRC{}", r.s(42, B64), r.s(5, B64)),
        format!("{}AzFu{}Q==", r.s(44, B64URL), r.s(5, B64URL)),
        format!("{}AzSeA{}", r.s(42, ALNUM), r.s(5, ALNUM)),
    ];
    for (i, t) in keys.iter().enumerate() {
        let text = match i % 3 {
            0 => format!("2026-12-01T09:14:02Z WARN retrying with key {t} (attempt 2)"),
            1 => format!("client = Client(endpoint, AzureKeyCredential(\"{t}\"))"),
            _ => format!("Found this in the wiki, still live?\n\n{t}\n"),
        };
        v.push(pos("azure-api-key", text, t));
    }

    v
}
