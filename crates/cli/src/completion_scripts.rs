//! The scripts `completion bash|zsh|fish|powershell` prints. Each asks the program's
//! hidden `__complete` command (cobra's protocol, see [`crate::completion`]) for the
//! candidates of the word under the cursor and honours the directive on its last line:
//! 1 error (nothing), 2 no space after the word, 4 no file names as a fallback.

/// The script for a shell, for a program called `name`; None for a shell not supported.
pub fn script(shell: &str, name: &str, descriptions: bool) -> Option<String> {
    let request = if descriptions {
        "__complete"
    } else {
        "__completeNoDesc"
    };
    let func = name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let template = match shell {
        "bash" => BASH,
        "zsh" => ZSH,
        "fish" => FISH,
        "powershell" => POWERSHELL,
        _ => return None,
    };
    Some(
        template
            .replace("@NAME@", name)
            .replace("@FUNC@", &func)
            .replace("@REQUEST@", request),
    )
}

const BASH: &str = r#"# bash completion for @NAME@                                 -*- shell-script -*-
# Load it with: source <(@NAME@ completion bash)

__@FUNC@_complete() {
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    read -ra words <<<"$line"
    local cur=""
    if [[ ! $line =~ [[:space:]]$ ]] && (( ${#words[@]} > 1 )); then
        cur=${words[${#words[@]}-1]}
        unset 'words[${#words[@]}-1]'
    fi
    local out directive
    # Descriptions are for shells that show them; bash gets names only.
    out=$("${words[0]}" __completeNoDesc "${words[@]:1}" "$cur" 2>/dev/null)
    directive=${out##*:}
    out=${out%:*}
    [[ $directive =~ ^[0-9]+$ ]] || directive=0
    COMPREPLY=()
    (( directive & 1 )) && return 0
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    local c
    while IFS= read -r c; do
        c=${c%%$'\t'*}
        [[ -n $c && $c == "$cur"* ]] && COMPREPLY+=("$c")
    done <<<"$out"
    if (( ${#COMPREPLY[@]} == 0 )) && (( (directive & 4) == 0 )); then
        compopt -o default 2>/dev/null
        return 0
    fi
    # bash splits words at ':' (image names have one): answer only what follows it.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local prefix=${cur%"${cur##*:}"}
        local i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[$i]=${COMPREPLY[$i]#"$prefix"}
        done
    fi
}

complete -F __@FUNC@_complete @NAME@
"#;

const ZSH: &str = r#"#compdef @NAME@
# zsh completion for @NAME@. Load it with: source <(@NAME@ completion zsh)

_@FUNC@() {
    local -a lines names descs
    local out directive line
    out=$(${words[1]} @REQUEST@ ${(@)words[2,CURRENT-1]} "${words[CURRENT]}" 2>/dev/null)
    lines=("${(@f)out}")
    directive=${lines[-1]#:}
    lines=("${(@)lines[1,-2]}")
    (( directive & 1 )) && return 1
    for line in $lines; do
        [[ -z $line ]] && continue
        names+=("${line%%$'\t'*}")
        if [[ $line == *$'\t'* ]]; then
            descs+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
        else
            descs+=("${line//:/\\:}")
        fi
    done
    if (( ${#names} == 0 )); then
        (( directive & 4 )) && return 1
        _files
        return
    fi
    if (( directive & 2 )); then
        _describe -t completions '@NAME@' descs -S ''
    else
        _describe -t completions '@NAME@' descs
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _@FUNC@ "$@"
else
    compdef _@FUNC@ @NAME@
fi
"#;

const FISH: &str = r#"# fish completion for @NAME@. Load it with: @NAME@ completion fish | source

function __@FUNC@_complete
    set -l args (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($args[1] @REQUEST@ $args[2..-1] "$cur" 2>/dev/null)
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if test (math "$directive % 2") -eq 1
        return
    end
    if test (count $out) -eq 0
        if test (math "floor($directive / 4) % 2") -eq 0
            __fish_complete_path "$cur"
        end
        return
    end
    printf '%s\n' $out
end

complete -c @NAME@ -f -a '(__@FUNC@_complete)'
"#;

const POWERSHELL: &str = r#"# powershell completion for @NAME@
# Load it with: @NAME@ completion powershell | Out-String | Invoke-Expression

Register-ArgumentCompleter -CommandName '@NAME@' -ScriptBlock {
    param($WordToComplete, $CommandAst, $CursorPosition)
    $line = "$CommandAst".Substring(0, [Math]::Min($CursorPosition, "$CommandAst".Length))
    $words = @($line -split '\s+' | Where-Object { $_ -ne '' })
    if ($WordToComplete -ne '' -and $words.Count -gt 1) { $words = $words[0..($words.Count - 2)] }
    $program = $words[0]
    $rest = @()
    if ($words.Count -gt 1) { $rest = $words[1..($words.Count - 1)] }
    $out = @(& $program @REQUEST@ @rest "$WordToComplete" 2>$null)
    if ($out.Count -eq 0) { return }
    $directive = [int]($out[-1].TrimStart(':'))
    if ($directive -band 1) { return }
    $out | Select-Object -SkipLast 1 | Where-Object { $_ -ne '' } | ForEach-Object {
        $name, $desc = $_ -split "`t", 2
        if (-not $desc) { $desc = $name }
        [System.Management.Automation.CompletionResult]::new($name, $name, 'ParameterValue', $desc)
    }
}
"#;
