//! # ores-testkit-macros
//!
//! The `#[ores_testkit::test]` attribute. Use it through its re-export in `ores-testkit`
//! (`ores_testkit::test`), not from this crate directly.
//!
//! It turns an `async fn` that takes one `TestKit` into a plain `#[test]` function that hands
//! the body to `ores_testkit::__private::run`, which builds the isolated environment (its own
//! PostgreSQL schema and NATS subject prefix), runs the body under a timeout, reports a
//! returned `Err` as a failure and tears the environment down.
//!
//! ```ignore
//! #[ores_testkit::test]
//! async fn lists_currencies(kit: TestKit) -> anyhow::Result<()> { /* ... */ Ok(()) }
//!
//! #[ores_testkit::test(timeout = 30)]
//! async fn other(kit: TestKit) { /* ... */ }
//!
//! #[ores_testkit::test(migrations = my_migrations())]
//! async fn third(kit: TestKit) -> Result<(), MyError> { /* ... */ Ok(()) }
//! ```
//!
//! The first one expands to:
//!
//! ```ignore
//! #[::core::prelude::v1::test]
//! fn lists_currencies() {
//!     async fn __ores_body(kit: TestKit) -> anyhow::Result<()> { /* ... */ Ok(()) }
//!     let __ores_options = ::ores_testkit::__private::TestOptions::new();
//!     ::ores_testkit::__private::run(
//!         ::core::concat!(::core::module_path!(), "::", ::core::stringify!(lists_currencies)),
//!         __ores_options,
//!         __ores_body,
//!     );
//! }
//! ```
//!
//! Accepted arguments, comma separated, each at most once:
//!
//! | key | value | effect |
//! |---|---|---|
//! | `timeout` | positive integer literal, seconds | `.timeout(Duration::from_secs(n))` |
//! | `timeout_ms` | positive integer literal, milliseconds | `.timeout(Duration::from_millis(n))` |
//! | `migrations` | any expression of type `ores_testkit::Migrations`, evaluated when the test starts | `.migrations(expr)` |
//! | `crate` | a path (`crate = my::path` or `crate = "my::path"`) | where `__private` is found; defaults to `::ores_testkit` |
//!
//! `timeout` and `timeout_ms` exclude each other. Without either, `TestOptions::new()` picks the
//! default (`ORES_TEST_TIMEOUT_SECONDS`, else 60 s). The user's other attributes (`#[ignore]`,
//! `#[should_panic]`, doc comments, lint attributes) stay on the generated `#[test]` function.

#![deny(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, ItemFn, Lit, Meta, Path, Token};

/// Marks an `async fn(kit: TestKit)` as an ores-testkit test.
///
/// The function must be `async`, take exactly one argument (the `TestKit`; any pattern,
/// including `_`), have no generics, and return `()` or `Result<(), E>` with `E: Debug`.
///
/// Arguments: `timeout = <seconds>`, `timeout_ms = <milliseconds>`,
/// `migrations = <expression>`, `crate = <path>` (see the crate documentation).
///
/// ```ignore
/// #[ores_testkit::test(timeout = 30)]
/// async fn lists_currencies(kit: TestKit) -> anyhow::Result<()> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into()).into()
}

/// The whole expansion: on error, the compile error followed by the item left as written, so
/// the rest of the file still resolves and only the real mistake is reported.
fn expand(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let result = parse_args(args).and_then(|args| {
        let function = syn::parse2::<ItemFn>(item.clone())?;
        expand_fn(&args, function)
    });
    match result {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.to_compile_error();
            quote! { #error #item }
        }
    }
}

/// The keys accepted inside `#[ores_testkit::test(...)]`, for error messages.
const ACCEPTED_KEYS: &str = "`timeout = <seconds>`, `timeout_ms = <milliseconds>`, \
                             `migrations = <expression>`, `crate = <path>`";

/// The test's timeout as written in the attribute.
enum Timeout {
    /// `timeout = n`
    Seconds(u64, Span),
    /// `timeout_ms = n`
    Millis(u64, Span),
}

/// The parsed arguments of `#[ores_testkit::test(...)]`.
struct Args {
    /// `timeout` or `timeout_ms`, if given.
    timeout: Option<Timeout>,
    /// `migrations = expr`, if given.
    migrations: Option<Expr>,
    /// `crate = path`, or `::ores_testkit`.
    krate: Path,
}

/// Parses the attribute's arguments.
fn parse_args(args: TokenStream2) -> syn::Result<Args> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut timeout: Option<Timeout> = None;
    let mut migrations: Option<Expr> = None;
    let mut krate: Option<Path> = None;
    for meta in metas {
        let Meta::NameValue(nv) = meta else {
            return Err(syn::Error::new_spanned(
                &meta,
                format!(
                    "#[ores_testkit::test] expects `key = value` arguments; accepted: {ACCEPTED_KEYS}"
                ),
            ));
        };
        let key = nv
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "timeout" | "timeout_ms" => {
                if timeout.is_some() {
                    return Err(syn::Error::new_spanned(
                        &nv.path,
                        "#[ores_testkit::test]: the timeout is given twice \
                         (use one of `timeout` or `timeout_ms`, once)",
                    ));
                }
                let value = positive_integer(&nv.value, &key)?;
                let span = nv.span();
                timeout = Some(if key == "timeout" {
                    Timeout::Seconds(value, span)
                } else {
                    Timeout::Millis(value, span)
                });
            }
            "migrations" => {
                if migrations.is_some() {
                    return Err(syn::Error::new_spanned(
                        &nv.path,
                        "#[ores_testkit::test]: `migrations` is given twice",
                    ));
                }
                migrations = Some(nv.value);
            }
            "crate" => {
                if krate.is_some() {
                    return Err(syn::Error::new_spanned(
                        &nv.path,
                        "#[ores_testkit::test]: `crate` is given twice",
                    ));
                }
                krate = Some(crate_path(&nv.value)?);
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    &nv.path,
                    format!(
                        "#[ores_testkit::test]: unknown argument `{}`; accepted: {ACCEPTED_KEYS}",
                        path_to_string(&nv.path)
                    ),
                ));
            }
        }
    }
    Ok(Args {
        timeout,
        migrations,
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::ores_testkit)),
    })
}

/// The value of `timeout`/`timeout_ms`: an integer literal greater than zero.
fn positive_integer(value: &Expr, key: &str) -> syn::Result<u64> {
    let unit = if key == "timeout" {
        "seconds"
    } else {
        "milliseconds"
    };
    let message =
        format!("#[ores_testkit::test]: `{key}` must be a positive integer number of {unit}");
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if int.suffix().is_empty() => match int.base10_parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(syn::Error::new_spanned(value, message)),
        },
        _ => Err(syn::Error::new_spanned(value, message)),
    }
}

/// The value of `crate`: a path, bare or in a string literal.
fn crate_path(value: &Expr) -> syn::Result<Path> {
    let message = "#[ores_testkit::test]: `crate` must be a path, e.g. `crate = ::ores_testkit`";
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Ok(path.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => s
            .parse::<Path>()
            .map_err(|_| syn::Error::new_spanned(value, message)),
        _ => Err(syn::Error::new_spanned(value, message)),
    }
}

/// A path as the user wrote it, without the spaces `quote` puts around `::`.
fn path_to_string(path: &Path) -> String {
    quote!(#path).to_string().replace(' ', "")
}

/// Checks the function and builds the `#[test]` wrapper around it.
fn expand_fn(args: &Args, function: ItemFn) -> syn::Result<TokenStream2> {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;

    if let Some(attr) = attrs.iter().find(|a| is_test_attribute(a.path())) {
        return Err(syn::Error::new_spanned(
            attr,
            "#[ores_testkit::test] already makes this a test; remove this second test attribute",
        ));
    }
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "#[ores_testkit::test] needs an `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "#[ores_testkit::test] functions cannot have generic parameters or a where clause",
        ));
    }
    if let Some(constness) = sig.constness {
        return Err(syn::Error::new_spanned(
            constness,
            "#[ores_testkit::test] functions cannot be `const`",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            "#[ores_testkit::test] functions cannot be variadic",
        ));
    }
    let arguments_message = "#[ores_testkit::test] functions take exactly one argument, the \
                             `TestKit`: `async fn name(kit: TestKit)`";
    match sig.inputs.len() {
        0 => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                arguments_message,
            ));
        }
        1 => {
            if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
                return Err(syn::Error::new_spanned(receiver, arguments_message));
            }
        }
        _ => return Err(syn::Error::new_spanned(&sig.inputs, arguments_message)),
    }

    let test_name = sig.ident.clone();
    let krate = &args.krate;
    let body_name = syn::Ident::new("__ores_body", Span::call_site());
    sig.ident = body_name.clone();

    let timeout = match &args.timeout {
        None => quote!(),
        Some(Timeout::Seconds(n, span)) => {
            quote_spanned!(*span=> .timeout(::core::time::Duration::from_secs(#n)))
        }
        Some(Timeout::Millis(n, span)) => {
            quote_spanned!(*span=> .timeout(::core::time::Duration::from_millis(#n)))
        }
    };
    let migrations = match &args.migrations {
        None => quote!(),
        Some(expr) => quote_spanned!(expr.span()=> .migrations(#expr)),
    };

    Ok(quote_spanned! {test_name.span()=>
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #test_name() {
            #sig #block
            let __ores_options = #krate::__private::TestOptions::new() #timeout #migrations;
            #krate::__private::run(
                ::core::concat!(
                    ::core::module_path!(),
                    "::",
                    ::core::stringify!(#test_name)
                ),
                __ores_options,
                #body_name,
            );
        }
    })
}

/// Whether an attribute path names a test attribute (`test`, `tokio::test`,
/// `ores_testkit::test`, `core::prelude::v1::test`, ...).
fn is_test_attribute(path: &Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "test")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{ACCEPTED_KEYS, expand, expand_fn, parse_args};
    use proc_macro2::TokenStream as TokenStream2;
    use quote::quote;
    use syn::ItemFn;

    /// The error message of expanding `item` with `args`.
    fn error(args: TokenStream2, item: ItemFn) -> String {
        match parse_args(args).and_then(|args| expand_fn(&args, item)) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error.to_string(),
        }
    }

    /// The expansion of `item` with `args`, as a string.
    fn expansion(args: TokenStream2, item: ItemFn) -> String {
        let args = parse_args(args).unwrap();
        expand_fn(&args, item).unwrap().to_string()
    }

    fn ok_fn() -> ItemFn {
        syn::parse_quote! { async fn t(kit: TestKit) {} }
    }

    #[test]
    fn not_async() {
        let message = error(quote!(), syn::parse_quote! { fn t(kit: TestKit) {} });
        assert_eq!(message, "#[ores_testkit::test] needs an `async fn`");
    }

    #[test]
    fn no_argument() {
        let message = error(quote!(), syn::parse_quote! { async fn t() {} });
        assert!(message.contains("take exactly one argument"), "{message}");
    }

    #[test]
    fn two_arguments() {
        let message = error(
            quote!(),
            syn::parse_quote! { async fn t(kit: TestKit, other: u32) {} },
        );
        assert!(message.contains("take exactly one argument"), "{message}");
    }

    #[test]
    fn self_argument() {
        let message = error(quote!(), syn::parse_quote! { async fn t(&self) {} });
        assert!(message.contains("take exactly one argument"), "{message}");
    }

    #[test]
    fn generics() {
        let message = error(
            quote!(),
            syn::parse_quote! { async fn t<T: Default>(kit: TestKit) {} },
        );
        assert!(
            message.contains("cannot have generic parameters"),
            "{message}"
        );
        let message = error(
            quote!(),
            syn::parse_quote! { async fn t(kit: TestKit) where u8: Copy {} },
        );
        assert!(
            message.contains("cannot have generic parameters"),
            "{message}"
        );
    }

    #[test]
    fn second_test_attribute() {
        let message = error(
            quote!(),
            syn::parse_quote! { #[tokio::test] async fn t(kit: TestKit) {} },
        );
        assert!(message.contains("second test attribute"), "{message}");
    }

    #[test]
    fn unknown_key_lists_accepted_keys() {
        let message = error(quote!(timeuot = 3), ok_fn());
        assert_eq!(
            message,
            format!("#[ores_testkit::test]: unknown argument `timeuot`; accepted: {ACCEPTED_KEYS}")
        );
        for key in ["`timeout =", "`timeout_ms =", "`migrations =", "`crate ="] {
            assert!(message.contains(key), "{message}");
        }
        let message = error(quote!(foo::bar = 3), ok_fn());
        assert!(message.contains("unknown argument `foo::bar`"), "{message}");
    }

    #[test]
    fn bare_key() {
        let message = error(quote!(timeout), ok_fn());
        assert!(
            message.contains("expects `key = value` arguments"),
            "{message}"
        );
        assert!(message.contains(ACCEPTED_KEYS), "{message}");
    }

    #[test]
    fn timeout_not_positive_integer() {
        let expected =
            "#[ores_testkit::test]: `timeout` must be a positive integer number of seconds";
        for args in [
            quote!(timeout = 0),
            quote!(timeout = -5),
            quote!(timeout = 1.5),
            quote!(timeout = "30"),
            quote!(timeout = 30u8),
            quote!(timeout = SECONDS),
            quote!(timeout = 99999999999999999999999),
        ] {
            assert_eq!(error(args, ok_fn()), expected);
        }
        let message = error(quote!(timeout_ms = 0), ok_fn());
        assert_eq!(
            message,
            "#[ores_testkit::test]: `timeout_ms` must be a positive integer number of milliseconds"
        );
    }

    #[test]
    fn duplicate_keys() {
        let message = error(quote!(timeout = 1, timeout_ms = 5), ok_fn());
        assert!(message.contains("timeout is given twice"), "{message}");
        let message = error(quote!(timeout = 1, timeout = 2), ok_fn());
        assert!(message.contains("timeout is given twice"), "{message}");
        let message = error(quote!(migrations = a(), migrations = b()), ok_fn());
        assert!(message.contains("`migrations` is given twice"), "{message}");
        let message = error(quote!(crate = a, crate = b), ok_fn());
        assert!(message.contains("`crate` is given twice"), "{message}");
    }

    #[test]
    fn bad_crate_path() {
        let message = error(quote!(crate = 1), ok_fn());
        assert!(message.contains("`crate` must be a path"), "{message}");
        let message = error(quote!(crate = "not a path"), ok_fn());
        assert!(message.contains("`crate` must be a path"), "{message}");
    }

    #[test]
    fn syntax_error_in_arguments() {
        assert!(parse_args(quote!(timeout = )).is_err());
        assert!(parse_args(quote!(timeout = 1 2)).is_err());
    }

    #[test]
    fn default_expansion() {
        let item: ItemFn = syn::parse_quote! {
            async fn lists_currencies(kit: TestKit) -> anyhow::Result<()> { Ok(()) }
        };
        let expected = quote! {
            #[::core::prelude::v1::test]
            fn lists_currencies() {
                async fn __ores_body(kit: TestKit) -> anyhow::Result<()> { Ok(()) }
                let __ores_options = ::ores_testkit::__private::TestOptions::new();
                ::ores_testkit::__private::run(
                    ::core::concat!(
                        ::core::module_path!(),
                        "::",
                        ::core::stringify!(lists_currencies)
                    ),
                    __ores_options,
                    __ores_body,
                );
            }
        };
        assert_eq!(expansion(quote!(), item), expected.to_string());
    }

    #[test]
    fn options_and_attributes_expansion() {
        let item: ItemFn = syn::parse_quote! {
            /// Docs.
            #[ignore = "slow"]
            #[should_panic]
            pub async fn third(_: TestKit) -> Result<(), MyError> { Ok(()) }
        };
        let expected = quote! {
            #[doc = r" Docs."]
            #[ignore = "slow"]
            #[should_panic]
            #[::core::prelude::v1::test]
            pub fn third() {
                async fn __ores_body(_: TestKit) -> Result<(), MyError> { Ok(()) }
                let __ores_options = my::kit::__private::TestOptions::new()
                    .timeout(::core::time::Duration::from_millis(500u64))
                    .migrations(my_migrations());
                my::kit::__private::run(
                    ::core::concat!(
                        ::core::module_path!(),
                        "::",
                        ::core::stringify!(third)
                    ),
                    __ores_options,
                    __ores_body,
                );
            }
        };
        let args = quote!(
            timeout_ms = 500,
            migrations = my_migrations(),
            crate = "my::kit"
        );
        assert_eq!(expansion(args, item), expected.to_string());
    }

    #[test]
    fn seconds_expansion() {
        let out = expansion(quote!(timeout = 30, crate = crate::fake), ok_fn());
        assert!(
            out.contains(":: core :: time :: Duration :: from_secs (30u64)"),
            "{out}"
        );
        assert!(out.contains("crate :: fake :: __private :: run"), "{out}");
    }

    #[test]
    fn error_keeps_the_item() {
        let out = expand(quote!(bogus = 1), quote! { async fn t(kit: TestKit) {} }).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("async fn t"), "{out}");
    }
}
