#Requires -Version 7.4
# Secret scan: rotate the Hugging Face token and the registry credential on a sandbox, with -Verbose, -Debug,
# -WhatIf and a transcript, and look for any form of any credential value in every stream, every result
# object (ConvertTo-Json -Depth 20) and the transcript file.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force

    function script:New-Cred([string]$User, [string]$Password) {
        [pscredential]::new($User, (ConvertTo-SecureString $Password -AsPlainText -Force))
    }

    # Every form a credential may take on the way: plain, base64, the registry auth pair and its base64,
    # the .dockerconfigjson document and its base64 (the Secret's data).
    function script:Get-SecretForms([string[]]$Tokens, [pscredential[]]$Credentials) {
        $b64 = { param($s) [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($s)) }
        $forms = [Collections.Generic.List[string]]::new()
        foreach ($t in $Tokens) { $forms.Add($t); $forms.Add((& $b64 $t)) }
        foreach ($c in $Credentials) {
            $password = $c.GetNetworkCredential().Password
            $auth = & $b64 "$($c.UserName):$password"
            $config = '{"auths":{"registry.redhat.io":{"auth":"' + $auth + '"}}}'
            foreach ($f in $password, (& $b64 $password), $auth, $config, (& $b64 $config)) { $forms.Add($f) }
        }
        $forms
    }

    # Fails naming the form (never the value) and where it was found.
    function script:Assert-NoSecret([string]$Text, [string[]]$Forms, [string]$Where) {
        for ($i = 0; $i -lt $Forms.Count; $i++) {
            $Text.Contains($Forms[$i]) | Should -BeFalse -Because "credential form #$i must not appear in $Where"
        }
    }

    function script:Out-Text($Records) {
        ($Records | ForEach-Object {
            if ($_ -is [Management.Automation.ErrorRecord]) { "$_ $($_.Exception) $($_.ErrorDetails) $($_.ScriptStackTrace)" }
            elseif ($_ -is [Management.Automation.InformationalRecord]) { $_.Message }
            elseif ($_ -is [Management.Automation.InformationRecord]) { "$($_.MessageData)" }
            else { ($_ | Out-String) + ($_ | ConvertTo-Json -Depth 20 -WarningAction SilentlyContinue) }
        }) -join "`n"
    }
}

Describe 'Secret scan: rotated credentials never show' -Tag Integration, Secrets {
    BeforeAll {
        $script:sandbox = Start-RhaiiSandbox -Name "secrets-$PID" -TpuNodes 1 -ControllerDelay 00:00:00.005
        $script:hf1 = 'hf_FIRSTtoken0a1b2c3d4e5f'
        $script:hf2 = 'hf_ROTATEDtoken9z8y7x6w5v'
        $script:reg1 = New-Cred 'svc-first' 'first-registry-pass-1357'
        $script:reg2 = New-Cred 'svc-rotated' 'rotated-registry-pass-2468'
        $script:forms = Get-SecretForms -Tokens $hf1, $hf2 -Credentials $reg1, $reg2
        $script:transcript = Join-Path $TestDrive 'transcript.txt'
        $script:platform = $sandbox | Install-RhaiiOperators -RegistryCredential $reg1
        $null = New-InferenceGateway
        $script:first = Deploy-LlmInferenceService -Name scan -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace scan `
            -HuggingFaceToken (ConvertTo-SecureString $hf1 -AsPlainText -Force) -RegistryCredential $reg1
    }
    AfterAll {
        Stop-RhaiiSandbox -Name "secrets-$PID" -ErrorAction SilentlyContinue
    }

    It 'the first deploy shows no credential' {
        Assert-NoSecret (Out-Text $first) $forms 'the first deploy result'
        Assert-NoSecret (Out-Text $platform) $forms 'the install result'
    }

    It 'a redeploy with a rotated token and registry credential shows neither, in any stream, result, JSON or transcript' {
        $hf = ConvertTo-SecureString $hf2 -AsPlainText -Force
        Start-Transcript -LiteralPath $transcript -Force | Out-Null
        try {
            $DebugPreference = 'Continue'
            $preview = Deploy-LlmInferenceService -Name scan -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace scan `
                -HuggingFaceToken $hf -RegistryCredential $reg2 -WhatIf -Verbose *>&1
            $applied = Deploy-LlmInferenceService -Name scan -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace scan `
                -HuggingFaceToken $hf -RegistryCredential $reg2 -Verbose *>&1
            $again = Deploy-LlmInferenceService -Name scan -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace scan `
                -HuggingFaceToken $hf -RegistryCredential $reg2 -Verbose *>&1
            $DebugPreference = 'SilentlyContinue'
        }
        finally { Stop-Transcript | Out-Null }

        # the rotation really happened (the scan is not vacuous): both Secrets changed, by name, without values
        $svc = $applied | Where-Object { $_ -is [RhaiiGke.LlmInferenceService] }
        $hfSecret = $svc.Objects | Where-Object { $_.Kind -eq 'Secret' -and $_.Name -eq 'hf-token' }
        $hfSecret.Action | Should -Be 'Configured'
        $hfSecret.Message | Should -Match 'HF_TOKEN \(changed\)'
        ($svc.Objects | Where-Object { $_.Kind -eq 'Secret' -and $_.Name -ne 'hf-token' }).Action | Should -Be 'Configured'
        $p = $preview | Where-Object { $_ -is [RhaiiGke.LlmInferenceService] }
        ($p.Objects | Where-Object { $_.Kind -eq 'Secret' }).Action | Should -Be @('WouldConfigure', 'WouldConfigure')
        ($again | Where-Object { $_ -is [RhaiiGke.LlmInferenceService] }).MutatingRequests | Should -Be 0
        @($applied | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Count | Should -BeGreaterThan 0

        Assert-NoSecret (Out-Text $preview) $forms 'the -WhatIf output'
        Assert-NoSecret (Out-Text $applied) $forms 'the deploy output'
        Assert-NoSecret (Out-Text $again) $forms 'the re-run output'
        Assert-NoSecret ($svc | ConvertTo-Json -Depth 20 -WarningAction SilentlyContinue) $forms 'ConvertTo-Json -Depth 20'
        Assert-NoSecret (Get-Content -Raw -LiteralPath $transcript) $forms 'the transcript'
        Assert-NoSecret ((Get-LlmInferenceService -Namespace scan -Name scan) | ConvertTo-Json -Depth 20 -WarningAction SilentlyContinue) $forms 'Get-LlmInferenceService'
    }

    It 'Install-RhaiiOperators with a rotated registry credential shows it nowhere' {
        $reg3 = New-Cred 'svc-third' 'third-registry-pass-8642'
        $all = $forms + (Get-SecretForms -Credentials $reg3)
        $log = Join-Path $TestDrive 'install-transcript.txt'
        Start-Transcript -LiteralPath $log -Force | Out-Null
        try {
            $DebugPreference = 'Continue'
            $preview = Install-RhaiiOperators -RegistryCredential $reg3 -WhatIf -Verbose *>&1
            $installed = Install-RhaiiOperators -RegistryCredential $reg3 -Verbose *>&1
            $DebugPreference = 'SilentlyContinue'
        }
        finally { Stop-Transcript | Out-Null }

        $platform = $installed | Where-Object { $_ -is [RhaiiGke.RhaiiPlatform] }
        $secrets = @($platform.Components.Apply.Objects | Where-Object Kind -eq 'Secret')
        $secrets.Count | Should -BeGreaterThan 0
        $secrets.Action | Should -Not -Contain 'Unchanged'
        $secrets[0].Message | Should -Match '\.dockerconfigjson \(changed\)'
        $whatIf = $preview | Where-Object { $_ -is [RhaiiGke.RhaiiPlatform] }
        @($whatIf.Components.Apply.Objects | Where-Object { $_.Kind -eq 'Secret' -and $_.Action -eq 'WouldConfigure' }).Count | Should -BeGreaterThan 0

        Assert-NoSecret (Out-Text $preview) $all 'the install -WhatIf output'
        Assert-NoSecret (Out-Text $installed) $all 'the install output'
        Assert-NoSecret ($platform | ConvertTo-Json -Depth 20 -WarningAction SilentlyContinue) $all 'the install result as JSON'
        Assert-NoSecret (Get-Content -Raw -LiteralPath $log) $all 'the install transcript'
    }
}
